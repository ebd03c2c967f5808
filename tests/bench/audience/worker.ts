/**
 * A load-client process of the audience benchmark (bench/audience.ts): it holds many counting
 * WebRTC listeners (see listener.ts), each with its own Janus handle in this process's one Janus
 * session, so that neither the signalling nor the packets share an event loop with the bench's
 * sampled listeners. Driven over IPC:
 *   {cmd:'init', url, apiSecret, address}                      → {type:'ready'}
 *   {cmd:'connect', kind, target, count, concurrency, tag}      → {type:'connected', tag, ok, failed, errors}
 *   {cmd:'snapshot', tag}                                      → {type:'snapshot', tag, listeners: CounterSnapshot[], cpuMs}
 *   {cmd:'disconnect', tag}                                    → {type:'disconnected', tag}
 *   {cmd:'stop'} / {cmd:'close'}                               → exits
 * kind 'streaming': viewers of mountpoint `target`; 'audiobridge': muted participants of room `target`.
 */
import { getPriority, setPriority } from 'node:os';
import { JanusSession } from '@spaces/janus';
import { WebRtcListener, type CounterSnapshot } from './listener.ts';
import { detach, joinRoomMuted, watchMountpoint } from './janus.ts';

type Message = { cmd: string; [key: string]: any };

let session: JanusSession | undefined;
let address = '10.99.0.2';
const held: { listener: WebRtcListener; handleId: number }[] = [];
let serial = 0;

const send = (message: Record<string, unknown>) => process.send?.(message);

async function connectOne(kind: 'streaming' | 'audiobridge', target: number, connectTimeoutMs: number) {
  const listener = new WebRtcListener({ address, mode: 'count', name: `${kind}-${process.pid}-${++serial}` });
  try {
    const handleId =
      kind === 'streaming'
        ? await watchMountpoint(session!, target, listener)
        : await joinRoomMuted(session!, target, listener, listener.name);
    held.push({ listener, handleId });
    await listener.waitConnected(connectTimeoutMs);
  } catch (error) {
    await listener.close();
    throw error;
  }
}

async function connect(message: Message) {
  const { kind, target, count, concurrency = 8, connectTimeoutMs = 20_000 } = message;
  let next = 0;
  let ok = 0;
  const errors: string[] = [];
  const lane = async () => {
    while (next < count) {
      next++;
      try {
        await connectOne(kind, target, connectTimeoutMs);
        ok++;
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  send({ type: 'connected', tag: message.tag, ok, failed: errors.length, errors: errors.slice(0, 5) });
}

async function disconnect(message: Message) {
  const all = held.splice(0);
  for (let i = 0; i < all.length; i += 20) {
    await Promise.all(
      all.slice(i, i + 20).map(async ({ listener, handleId }) => {
        await detach(session!, handleId);
        await listener.close();
      }),
    );
  }
  send({ type: 'disconnected', tag: message.tag });
}

function snapshot(message: Message) {
  const listeners: CounterSnapshot[] = held.map(({ listener }) => listener.counter.snapshot());
  if (message.resetGaps) for (const { listener } of held) listener.counter.resetGap();
  const cpu = process.cpuUsage();
  send({ type: 'snapshot', tag: message.tag, listeners, cpuMs: (cpu.user + cpu.system) / 1000 });
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await Promise.race([
    (async () => {
      await Promise.all(held.splice(0).map(({ listener }) => listener.close()));
      await session?.destroy();
    })(),
    new Promise((r) => setTimeout(r, 5_000)),
  ]);
  process.exit(0);
}

process.on('message', (message: Message) => {
  const fail = (error: unknown) => send({ type: 'error', tag: message.tag, error: error instanceof Error ? error.stack ?? error.message : String(error) });
  switch (message.cmd) {
    case 'init':
      address = message.address;
      // A new stage (another Janus): the old session goes with its Janus.
      void session?.destroy().catch(() => {});
      JanusSession.create({ url: message.url, apiSecret: message.apiSecret, maxEventsPerPoll: 200, asyncTimeoutMs: 30_000 })
        .then((s) => {
          session = s;
          send({ type: 'ready', tag: message.tag });
        })
        .catch(fail);
      return;
    case 'connect':
      connect(message).catch(fail);
      return;
    case 'disconnect':
      disconnect(message).catch(fail);
      return;
    case 'snapshot':
      snapshot(message);
      return;
    case 'stop':
    case 'close':
      void stop();
      return;
  }
});
process.on('disconnect', () => void stop());
// The bench raises its own and Janus's priority (sampled delays, the mixer's clock); clients
// on this machine stand for remote listeners and get no such favour.
if (getPriority() < 0) {
  try {
    setPriority(0);
  } catch {
    // keep the inherited priority
  }
}
// Messages sent before this listener existed are lost: the bench waits for this first.
send({ type: 'hello' });
// werift logs unhandled rejections of closed transports at teardown; they must not kill the counts.
process.on('unhandledRejection', () => {});
