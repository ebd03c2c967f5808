import { startJanus, janusOptionsFromEnv, JanusNotInstalledError, type RunningJanus } from '@spaces/janus';
import { buildApp } from './app.ts';
import { configFromEnv } from './config.ts';

/**
 * `pnpm start`: the API, the PWA and, unless JANUS_URLS names external instances, a private
 * Janus started with the project's config and restarted if it dies.
 */
const config = configFromEnv();
let janus: RunningJanus | null = null;
let stopping = false;

async function launchJanus(options: ReturnType<typeof janusOptionsFromEnv>): Promise<RunningJanus> {
  const running = await startJanus(options);
  running.onExit((code, signal) => {
    if (stopping) return;
    console.error(`[janus] exited (${signal ?? code}); restarting`);
    // Same port, admin key and API secret: config.mixers stays valid, so the API's mixer
    // reconnects and recreates the rooms. (A new random secret would lock the API out.)
    const retry = () =>
      launchJanus({
        ...options,
        httpPort: new URL(running.httpUrl).port ? Number(new URL(running.httpUrl).port) : undefined,
        adminKey: running.adminKey,
        apiSecret: running.apiSecret,
      })
        .then((next) => (janus = next))
        .catch((error) => {
          console.error('[janus] restart failed:', error.message);
          setTimeout(retry, 2_000).unref();
        });
    setTimeout(retry, 200).unref();
  });
  return running;
}

if (config.mixers.length === 0) {
  try {
    janus = await launchJanus(janusOptionsFromEnv());
    config.mixers = [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }];
    console.log(`Janus is ready at ${janus.httpUrl} (${janus.readyAfterMs} ms)`);
  } catch (error) {
    const hint = error instanceof JanusNotInstalledError ? ' Install it with: sudo apt-get install -y janus' : '';
    console.error(`Voice is off: Janus could not start: ${(error as Error).message}.${hint}`);
  }
}

const app = await buildApp({ mixers: config.mixers });
const url = await app.start();
console.log(`Spaces is running at ${url} (GraphQL at ${url}/graphql)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await app.stop();
    await janus?.stop();
    process.exit(0);
  });
}
