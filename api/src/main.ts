import { buildApp } from './app.ts';

const app = await buildApp();
const url = await app.start();
console.log(`Spaces is running at ${url} (GraphQL at ${url}/graphql)`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await app.stop();
    process.exit(0);
  });
}
