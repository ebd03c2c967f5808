import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JanusError, JanusSession, startJanus, type AudioBridgeHandle, type RunningJanus, type StreamingHandle } from '../src/index.ts';

let janus: RunningJanus;
let session: JanusSession;
let bridge: AudioBridgeHandle;
let streaming: StreamingHandle;

beforeAll(async () => {
  janus = await startJanus();
  session = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret });
  bridge = await session.attachAudioBridge({ adminKey: janus.adminKey });
  streaming = await session.attachStreaming({ adminKey: janus.adminKey });
});

afterAll(async () => {
  await session?.destroy().catch(() => {});
  await janus?.stop();
});

async function janusError(promise: Promise<unknown>): Promise<JanusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JanusError);
  return error as JanusError;
}

describe('Streaming mountpoints fed by an AudioBridge room', () => {
  test('create on a port Janus picks, forward a room into it, list, info, destroy', async () => {
    const { id, port } = await streaming.createRtpAudio({ id: 7001, description: 'space-test', secret: 's', pin: 'p', is_private: true, iface: '127.0.0.1' });
    expect(id).toBe(7001);
    expect(port).toBeGreaterThan(0);
    const { room } = await bridge.create({ description: 'mix' });
    const forwarder = await bridge.rtpForward({ room, host: '127.0.0.1', port, ptype: 111, codec: 'opus', always_on: true });
    expect(forwarder.stream_id).toBeGreaterThan(0);
    expect((await bridge.listForwarders(room)).map((f) => f.stream_id)).toContain(forwarder.stream_id);
    expect((await streaming.list()).map((m) => m.id)).toContain(7001);
    expect((await streaming.info(7001, { secret: 's' })).viewers).toBe(0);
    await bridge.stopRtpForward(room, forwarder.stream_id);
    await streaming.destroy(7001, { secret: 's' });
    expect((await streaming.list()).map((m) => m.id)).not.toContain(7001);
    await bridge.destroy(room);
  });

  test('a viewer gets a receive-only Opus offer from watch', async () => {
    await streaming.createRtpAudio({ id: 7002, pin: 'pin-2', is_private: true, iface: '127.0.0.1' });
    const viewer = await session.attachStreaming();
    expect((await janusError(viewer.watch(7002, { pin: 'wrong' }))).kind).toBe('unauthorized');
    const offer = await viewer.watch(7002, { pin: 'pin-2' });
    expect(offer.type).toBe('offer');
    expect(offer.sdp).toMatch(/m=audio .*\r?\n/);
    expect(offer.sdp).toMatch(/a=sendonly/);
    expect(offer.sdp).toMatch(/opus\/48000/);
    await viewer.detach();
    await streaming.destroy(7002);
  });

  test('Streaming errors keep their own meaning (their codes overlap the core’s)', async () => {
    expect((await janusError(streaming.destroy(999_999))).kind).toBe('no-such-mountpoint');
    await streaming.createRtpAudio({ id: 7003 });
    expect((await janusError(streaming.createRtpAudio({ id: 7003 }))).kind).toBe('cant-create');
    await streaming.destroy(7003);
  });
});
