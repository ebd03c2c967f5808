/**
 * The baseline for the fan-out benchmark: a plain `ws` WebSocketServer in a process of its own.
 * `POST /broadcast` with a body sends that body, as is, to every open socket (one `send` per
 * socket, as any broadcast loop does), then answers 204. Sockets connect to ws://…/raw.
 * IPC: → { type: 'ready', url }; ← { cmd: 'stats' } → { type: 'stats', cpuUserUs, cpuSystemUs, sockets };
 * ← { cmd: 'stop' }.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/broadcast') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const payload = Buffer.concat(chunks).toString('utf8');
    let sent = 0;
    for (const socket of wss.clients)
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(payload);
        sent++;
      }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sent }));
  });
});
const wss = new WebSocketServer({ server, path: '/raw', maxPayload: 100_000 });

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  for (const socket of wss.clients) socket.terminate();
  wss.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5_000).unref();
}

process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'stats') {
    const cpu = process.cpuUsage();
    process.send?.({ type: 'stats', cpuUserUs: cpu.user, cpuSystemUs: cpu.system, sockets: wss.clients.size });
  } else if (message.cmd === 'stop') stop();
});
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
