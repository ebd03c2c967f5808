import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { findFreePort, JanusSession, startJanus, type AudioBridgeHandle, type RunningJanus, type StreamingHandle } from '@spaces/janus';
import { codes, startTestApp, type TestApp } from '../support/app.ts';
import { janusAdmin, janusHandles } from '../support/janus-admin.ts';
import { fakeAnswerTo, fakeOffer } from '../support/sdp.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/**
 * The audience tier's plumbing on a real Janus (signalling only, over loopback: what listeners
 * hear is tested in src/netns/audience.test.ts): relays made to exist where listeners are and
 * removed after them, orphans removed, answers accepted by any API instance, and the limit on
 * listeners' mixer seats.
 */
const adminSecret = randomBytes(12).toString('hex');
let janus: RunningJanus;
let t: TestApp;
let base: string;
let db: DbHandle;
let session: JanusSession;
let bridge: AudioBridgeHandle;
let streaming: StreamingHandle;
const extra: { app: App; close(): Promise<void> }[] = [];

const mixerOf = (j: RunningJanus, name = 'local') => ({ name, url: j.httpUrl, adminKey: j.adminKey, apiSecret: j.apiSecret });
const raw = (id: string) => Buffer.from(id, 'base64url').toString().split(':')[1]!;

beforeAll(async () => {
  janus = await startJanus({ adminPort: await findFreePort(), adminSecret });
  t = await startTestApp({ mixers: [mixerOf(janus)], mixerSweepMs: 300, mixerListenerSeats: 1 });
  base = await t.app.start();
  db = await createDb({ url: t.databaseUrl, migrate: false });
  session = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret });
  bridge = await session.attachAudioBridge({ adminKey: janus.adminKey });
  streaming = await session.attachStreaming({ adminKey: janus.adminKey });
});
afterAll(async () => {
  for (const e of extra) await e.close().catch(() => {});
  await session?.destroy().catch(() => {});
  await db?.close();
  await t?.close();
  await janus?.stop();
});

const LISTEN = `mutation($s: ID!) { listenAudio(spaceId: $s) { id offer participant { id audioTier } } }`;
const ANSWER = `mutation($s: ID!, $id: ID!, $a: String!) { answerAudio(spaceId: $s, offerId: $id, answer: $a) { id audioTier } }`;
const CONNECT = `mutation($s: ID!, $o: String!) { connectAudio(spaceId: $s, offer: $o) { answer } }`;

async function relays(spaceId: string) {
  return db.sql!`select instance, mountpoint, port, forwarder from audience_relays where space_id = ${raw(spaceId)}`;
}

async function roomOf(spaceId: string): Promise<number> {
  const [row] = await db.sql!`select mixer_room from spaces where id = ${raw(spaceId)}`;
  return Number(row!.mixer_room);
}

const mountpoints = async () => (await streaming.list()).map((m) => m.id);
const forwarders = async (room: number) => {
  // The room's secret is derived by the API; the admin key lists them too when lock_rtp_forward is set.
  const secret = (t.app.services.mixer as unknown as { roomOf(s: unknown): { instance: { roomSecret(r: number): string } } | null })
    .roomOf({ mixerInstance: 'local', mixerRoom: room })!
    .instance.roomSecret(room);
  return (await bridge.listForwarders(room, { secret })).map((f) => f.stream_id);
};

/** The remote SDP Janus holds for a handle (admin API), '' when none. */
async function remoteSdpOf(handleOpaqueId: string): Promise<string> {
  const admin = janusAdmin(janus.adminUrl!, adminSecret);
  for (const [s, h] of await janusHandles(admin)) {
    const { info } = await admin(`/${s}/${h}`, { janus: 'handle_info' });
    if (info?.opaque_id === handleOpaqueId) return info.sdps?.remote ?? '';
  }
  throw new Error(`no handle ${handleOpaqueId}`);
}

async function space(host: U) {
  const s = (await must(t, Q.create, { input: { title: 'Relays', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id as string;
  // The host starts muted (issue 11); these suites want the host heard from the start.
  await must(t, Q.setMuted, { s, m: false }, host);
  return s;
}

describe('audience relays', () => {
  it('a listener makes the relay exist (mountpoint and forward); the last one leaving removes it', async () => {
    const [host, a, b] = await users(t, 3, 'ra');
    const s = await space(host!);
    for (const u of [a, b]) await must(t, Q.join, { s }, u);
    const first = await must(t, LISTEN, { s }, a);
    expect(first.listenAudio.offer).toMatch(/m=audio/);
    expect(first.listenAudio.participant.audioTier).toBe('AUDIENCE');
    await must(t, LISTEN, { s }, b);
    const [relay, ...more] = await relays(s);
    expect(more).toHaveLength(0); // one relay per edge, whatever the listeners
    expect(relay!.instance).toBe('local');
    expect(await mountpoints()).toContain(Number(relay!.mountpoint));
    const room = await roomOf(s);
    expect(await forwarders(room)).toContain(Number(relay!.forwarder));

    await must(t, Q.leave, { s }, a);
    await t.app.services.mixer.reconciler.settled(raw(s));
    expect(await relays(s)).toHaveLength(1);
    await must(t, Q.leave, { s }, b);
    await t.app.services.mixer.reconciler.settled(raw(s));
    expect(await relays(s)).toHaveLength(0);
    expect(await mountpoints()).not.toContain(Number(relay!.mountpoint));
    expect(await forwarders(room)).not.toContain(Number(relay!.forwarder));
  });

  it('the sweep removes mountpoints and forwards that no relay stands for', async () => {
    const [host, a] = await users(t, 2, 'rb');
    const s = await space(host!);
    await must(t, Q.join, { s }, a);
    await must(t, LISTEN, { s }, a);
    const room = await roomOf(s);
    const stray = await streaming.createRtpAudio({ id: 424242, description: 'spaces-relay' });
    const foreign = await streaming.createRtpAudio({ id: 434343, description: 'an operator’s own' });
    const [relay] = await relays(s);
    const secret = (t.app.services.mixer as unknown as { roomOf(s: unknown): { instance: { roomSecret(r: number): string } } })
      .roomOf({ mixerInstance: 'local', mixerRoom: room })
      .instance.roomSecret(room);
    const strayForward = await bridge.rtpForward({ room, host: '127.0.0.1', port: stray.port, codec: 'opus', ptype: 111, secret });
    await expect.poll(async () => (await mountpoints()).includes(424242), { timeout: 6000 }).toBe(false);
    await expect.poll(async () => (await forwarders(room)).includes(strayForward.stream_id), { timeout: 6000 }).toBe(false);
    // Ours stay, and what is not ours is left alone.
    expect(await mountpoints()).toEqual(expect.arrayContaining([Number(relay!.mountpoint), foreign.id]));
    expect(await forwarders(room)).toContain(Number(relay!.forwarder));
    await streaming.destroy(foreign.id);
  });

  it('a mountpoint destroyed behind the API’s back: its listener alone is told to listen again, and a new relay is made and fed', async () => {
    const [host, a, b] = await users(t, 3, 'rc');
    const s = await space(host!);
    await must(t, Q.join, { s }, a);
    await must(t, Q.join, { s }, b);
    await must(t, LISTEN, { s }, a);
    const [before] = await relays(s);
    const clients = [wsClient(base, { token: a!.token }), wsClient(base, { token: b!.token })];
    const [toA, toB] = clients.map((c) => subscribe(c, EVENTS, { s }, (d) => d.spaceEvents));
    try {
      await new Promise((r) => setTimeout(r, 300)); // both subscriptions are live
      await streaming.destroy(Number(before!.mountpoint), {
        secret: (t.app.services.mixer as unknown as { roomOf(s: unknown): { instance: { mountpointSecret(m: number): string } } })
          .roomOf({ mixerInstance: 'local', mixerRoom: await roomOf(s) })
          .instance.mountpointSecret(Number(before!.mountpoint)),
      });
      // Janus hangs up the listener's connection with its mountpoint: they are told, and only they.
      await toA!.waitFor((e) => e.kind === 'AUDIO_RECONNECT', 6000);
      // Listening again (what the client does on AUDIO_RECONNECT) makes a new relay: a new
      // mountpoint, not merely none while the relay is being made again, and the mix fed into it.
      await must(t, LISTEN, { s }, a);
      await expect
        .poll(async () => {
          const now = (await relays(s))[0]?.mountpoint;
          return now !== undefined && now !== before!.mountpoint && (await mountpoints()).includes(Number(now));
        }, { timeout: 6000 })
        .toBe(true);
      await expect
        .poll(async () => (await forwarders(await roomOf(s))).includes(Number((await relays(s))[0]!.forwarder)), { timeout: 6000 })
        .toBe(true);
      expect(toB!.events.some((e) => e.kind === 'AUDIO_RECONNECT')).toBe(false);
    } finally {
      await Promise.all([toA!.close(), toB!.close()]);
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });

  it('any API instance takes the answer; a forged or stale offer id is refused', async () => {
    const [host, a] = await users(t, 2, 'rd');
    const s = await space(host!);
    await must(t, Q.join, { s }, a);
    const { listenAudio } = await must(t, LISTEN, { s }, a);
    const other = await (async () => {
      const otherDb = await createDb({ url: t.databaseUrl, migrate: false });
      const app = await buildApp({ database: otherDb, serveWeb: false, port: 0, host: '127.0.0.1', mixers: [mixerOf(janus)], presenceGraceMs: 600_000 });
      await app.start();
      extra.push({ app, close: async () => (await app.stop(), await otherDb.close()) });
      return app;
    })();
    const gql = async (query: string, variables: Record<string, unknown>) =>
      (await (
        await fetch(`${other.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${a!.token}` },
          body: JSON.stringify({ query, variables }),
        })
      ).json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };

    const forged = listenAudio.id.replace(/\.[^.]+$/, '.AAAAAAAAAAAAAAAAAAAAAA');
    expect((await gql(ANSWER, { s, id: forged, a: fakeAnswerTo(listenAudio.offer) })).errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const answer = fakeAnswerTo(listenAudio.offer);
    const answered = await gql(ANSWER, { s, id: listenAudio.id, a: answer });
    expect(answered.errors).toBeUndefined();
    expect(answered.data.answerAudio.audioTier).toBe('AUDIENCE');
    const participantId = raw(listenAudio.participant.id);
    await expect.poll(async () => (await remoteSdpOf(`listener-${participantId}`)).includes('a=recvonly'), { timeout: 3000 }).toBe(true);

    // A newer offer replaces it: the old id is stale everywhere.
    await must(t, LISTEN, { s }, a);
    expect(codes(await t.gql(ANSWER, { s, id: listenAudio.id, a: answer }, { token: a!.token }))).toEqual(['CONFLICT']);
    expect((await gql(ANSWER, { s, id: listenAudio.id, a: answer })).errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('listeners get mixer seats through connectAudio until the seats are taken, then are pointed to listenAudio', async () => {
    const [host, a, b] = await users(t, 3, 're');
    const s = await space(host!);
    for (const u of [a, b]) await must(t, Q.join, { s }, u);
    const offer = fakeOffer();
    expect((await t.gql(CONNECT, { s, o: offer }, { token: a!.token })).errors).toBeUndefined();
    const refused = await t.gql(CONNECT, { s, o: offer }, { token: b!.token });
    expect(codes(refused)).toEqual(['CONFLICT']);
    expect(refused.errors![0]!.extensions!.useInstead).toBe('listenAudio');
    // The seated listener may reconnect (it keeps its own seat).
    expect((await t.gql(CONNECT, { s, o: offer }, { token: a!.token })).errors).toBeUndefined();
  });
});
