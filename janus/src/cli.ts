/**
 * Runs the project's Janus in the foreground (`pnpm --filter @spaces/janus start`), configured
 * from JANUS_* environment variables (see janusOptionsFromEnv), until Ctrl-C.
 */
import { janusOptionsFromEnv, startJanus } from './launcher.ts';

const janus = await startJanus({
  ...janusOptionsFromEnv(),
  onLog: (line) => process.stdout.write(`[janus] ${line}\n`),
});
process.stdout.write(
  `[janus] ready in ${janus.readyAfterMs} ms: ${janus.httpUrl} (pid ${janus.pid}); ` +
    `AudioBridge admin_key ${process.env.JANUS_ADMIN_KEY ? 'from JANUS_ADMIN_KEY' : janus.adminKey}; ` +
    `api_secret ${process.env.JANUS_API_SECRET ? 'from JANUS_API_SECRET' : janus.apiSecret}\n`,
);

let stopping = false;
janus.onExit((code, signal) => {
  if (stopping) return;
  process.stderr.write(`[janus] exited (code ${code}, signal ${signal})\n`);
  process.exit(code ?? 1);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopping = true;
    void janus.stop().then(() => process.exit(0));
  });
}
