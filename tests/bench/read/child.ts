/**
 * The part every server process of the read bench shares: listen on a free loopback port, and the
 * IPC with bench/read.ts: → { type: 'ready', url }; ← { cmd: 'stats' } → { type: 'stats', queries,
 * cpuUserUs, cpuSystemUs }; ← { cmd: 'stop' } (or a signal, or the parent gone) closes and exits.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function serveToBench(server: Server, options: { queries: () => number; closeDatabase: () => Promise<unknown> }): Promise<void> {
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 5_000).unref();
    server.closeAllConnections();
    server.close(() => void options.closeDatabase().finally(() => process.exit(0)));
  };

  process.on('message', (message: { cmd: string }) => {
    if (message.cmd === 'stats') {
      const cpu = process.cpuUsage();
      process.send?.({ type: 'stats', queries: options.queries(), cpuUserUs: cpu.user, cpuSystemUs: cpu.system });
    } else if (message.cmd === 'stop') stop();
  });
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
}
