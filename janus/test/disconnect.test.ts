import { afterAll, expect, test } from 'vitest';
import { JanusConnectionError, JanusSession, startJanus, type RunningJanus } from '../src/index.ts';

const started: RunningJanus[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((janus) => janus.stop()));
});

async function janusWithRoom() {
  const janus = await startJanus();
  started.push(janus);
  const session = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret });
  const handle = await session.attachAudioBridge({ adminKey: janus.adminKey });
  const { room } = await handle.create({});
  return { janus, session, handle, room };
}

test('Janus crashing emits disconnected once; requests then fail with JanusConnectionError', async () => {
  const { janus, session, handle, room } = await janusWithRoom();
  const disconnected: JanusConnectionError[] = [];
  session.on('disconnected', (error) => disconnected.push(error));
  const handleDetached = handle.waitFor('detached', { timeoutMs: 3000 });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => janus.onExit((_code, signal) => resolve(signal)));

  const killedAt = performance.now();
  process.kill(janus.pid, 'SIGKILL');
  await session.waitFor('disconnected', { timeoutMs: 3000 });
  console.info(`disconnected ${Math.round(performance.now() - killedAt)} ms after SIGKILL`);

  expect(await exited).toBe('SIGKILL');
  await handleDetached;
  expect(session.isOpen).toBe(false);
  expect(handle.isAttached).toBe(false);
  await expect(handle.exists(room)).rejects.toBeInstanceOf(JanusConnectionError);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(disconnected).toHaveLength(1);
  await janus.stop(); // after a crash: only cleans up
  expect(janus.exited).toBe(true);
});

test('a request in flight when Janus stops is rejected, and disconnected is emitted', async () => {
  const { janus, session, handle } = await janusWithRoom();
  const disconnected = session.waitFor('disconnected', { timeoutMs: 5000 });
  const stopping = janus.stop(); // SIGTERM: Janus shuts down cleanly
  const inFlight = handle.listParticipants(1).catch((error: unknown) => error);
  await disconnected;
  await stopping;
  expect(await inFlight).toBeInstanceOf(Error);
});

test('destroy() ends the session quietly: no disconnected event', async () => {
  const { session } = await janusWithRoom();
  let disconnected = false;
  session.on('disconnected', () => (disconnected = true));
  await session.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(disconnected).toBe(false);
  await expect(session.attachAudioBridge()).rejects.toBeInstanceOf(JanusConnectionError);
});
