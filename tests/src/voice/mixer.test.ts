import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJanus, type RunningJanus } from '@spaces/janus';
import { PlainRtpEndpoint } from '@spaces/janus/testing';
import { inspectRoom } from '@spaces/api/testing';
import { startTestApp, type TestApp } from '../support/app.ts';
import { TONES, ToneProbe } from '../support/audio.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/**
 * Who is heard, checked on decoded audio through a real Janus: each person is a plain-RTP
 * participant on loopback that sends its own tone; a listener's endpoint receives the mix.
 */
let janus: RunningJanus;
let t: TestApp;
const endpoints: PlainRtpEndpoint[] = [];

beforeAll(async () => {
  janus = await startJanus();
  t = await startTestApp({ mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }], mixerPlainRtp: true });
  await t.app.start();
});
afterAll(async () => {
  await Promise.allSettled(endpoints.map((e) => e.close()));
  await t?.close();
  await janus?.stop();
});

/** Connects a participant's audio as plain RTP, sending `toneHz` (or silence). */
async function connect(s: string, user: U, toneHz: number | null) {
  const { space } = await must(t, `query($s: ID!) { space(id: $s) { viewerParticipant { id } } }`, { s }, user);
  const participantId = Buffer.from(space.viewerParticipant.id, 'base64url').toString().split(':')[1]!;
  const endpoint = await PlainRtpEndpoint.open();
  endpoints.push(endpoint);
  const answer = await t.app.services.mixer.connectPlainRtp(participantId, endpoint.offer);
  endpoint.connect(answer);
  endpoint.setTone(toneHz);
  endpoint.start();
  return { endpoint, participantId };
}

async function space(host: U, policy = 'EVERYONE') {
  const s = (await must(t, Q.create, { input: { title: 'Voice', speakerPolicy: policy } }, host)).createSpace.id as string;
  // The host starts muted (issue 11); these suites want the host heard from the start.
  await must(t, Q.setMuted, { s, m: false }, host);
  return s;
}

describe('who is heard at the mixer', () => {
  it('hears the host, never a listener, and an approved speaker only while allowed', async () => {
    const [host, speaker, listener, ear] = await users(t, 4, 'vo');
    const s = await space(host!);
    for (const u of [speaker, listener, ear]) await must(t, Q.join, { s }, u);
    await connect(s, host!, TONES.host);
    await connect(s, listener!, TONES.listener); // a listener who sends audio
    await connect(s, speaker!, TONES.speaker);
    const { endpoint } = await connect(s, ear!, null);
    const hostTone = new ToneProbe(endpoint, TONES.host);
    const listenerTone = new ToneProbe(endpoint, TONES.listener);
    const speakerTone = new ToneProbe(endpoint, TONES.speaker);

    await hostTone.waitFor(true);
    expect(await listenerTone.fractionOver(1000)).toBe(0);
    expect(await speakerTone.fractionOver(300)).toBe(0); // still a listener

    // Approved and unmuted: heard.
    await must(t, Q.raise, { s, r: true }, speaker);
    await must(t, Q.role, { s, u: speaker!.id, role: 'SPEAKER' }, host);
    await must(t, Q.setMuted, { s, m: false }, speaker);
    await speakerTone.waitFor(true);

    // Moderator mute: silent; the speaker unmutes: heard again.
    await must(t, Q.mute, { s, u: speaker!.id }, host);
    await speakerTone.waitFor(false);
    await must(t, Q.setMuted, { s, m: false }, speaker);
    await speakerTone.waitFor(true);

    // Taken off stage: silent.
    await must(t, Q.role, { s, u: speaker!.id, role: 'LISTENER' }, host);
    await speakerTone.waitFor(false);
    expect(await hostTone.fractionOver(500)).toBeGreaterThan(0.6);
    expect(await listenerTone.fractionOver(500)).toBe(0);
  });

  it('silences a speaker when the policy tightens, and after an unfollow under FOLLOWING', async () => {
    const [host, a, b, ear] = await users(t, 4, 'vp');
    await must(t, Q.follow, { u: b!.id }, host);
    const s = await space(host!, 'FOLLOWING');
    for (const u of [a, b, ear]) await must(t, Q.join, { s }, u);
    // a is on stage by invitation... then revoked: b by the follow.
    await must(t, Q.invite, { s, u: a!.id }, host);
    await must(t, Q.accept, { s }, a);
    await must(t, Q.setMuted, { s, m: false }, a);
    await must(t, Q.raise, { s, r: true }, b);
    await must(t, Q.role, { s, u: b!.id, role: 'SPEAKER' }, host);
    await must(t, Q.setMuted, { s, m: false }, b);
    await connect(s, a!, TONES.other);
    await connect(s, b!, TONES.speaker);
    const { endpoint } = await connect(s, ear!, null);
    const aTone = new ToneProbe(endpoint, TONES.other);
    const bTone = new ToneProbe(endpoint, TONES.speaker);
    await aTone.waitFor(true);
    await bTone.waitFor(true);

    await must(t, Q.unfollow, { u: b!.id }, host);
    await bTone.waitFor(false);
    expect(await aTone.fractionOver(400)).toBeGreaterThan(0.6);

    await must(t, Q.policy, { s, p: 'INVITED' }, host);
    await must(t, Q.revoke, { s, u: a!.id }, host);
    await aTone.waitFor(false);
  });

  it('kicks a removed participant out of the room', async () => {
    const [host, guest] = await users(t, 2, 'vk');
    const s = await space(host!);
    await must(t, Q.join, { s }, guest);
    await connect(s, host!, TONES.host);
    const { participantId } = await connect(s, guest!, null);
    const rawSpaceId = Buffer.from(s, 'base64url').toString().split(':')[1]!;
    // By Janus's own id: the participant's record lets go of it at once, the room must follow.
    const [row] = await t.app.services.spaces.participantsByIds([participantId]);
    const mixerId = row!.mixerParticipantId;
    const inRoom = async () => (await inspectRoom(t.app, rawSpaceId))!.participants.map((p) => p.id);
    await expect.poll(inRoom).toContain(mixerId);
    await must(t, Q.remove, { s, u: guest!.id }, host);
    await expect.poll(inRoom).not.toContain(mixerId);
  });
});

describe('abuse', () => {
  it('rejects a malformed offer with BAD_USER_INPUT and rate limits connectAudio per user', async () => {
    const [host] = await users(t, 1, 'va');
    const s = await space(host!);
    const CONNECT = `mutation($s: ID!, $o: String!) { connectAudio(spaceId: $s, offer: $o) { answer } }`;
    const { codes } = await import('../support/app.ts');
    const bad = await t.gql(CONNECT, { s, o: 'hello' }, { token: host!.token });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0]!.message).toContain('offer');
    const results = [];
    for (let i = 0; i < 21; i++) results.push(await t.gql(CONNECT, { s, o: 'v=0 but not sdp' }, { token: host!.token }));
    expect(codes(results.at(-1)!)).toEqual(['RATE_LIMITED']);
  });
});

describe('several Janus instances', () => {
  it('places each new space on the least loaded instance and stores the placement', async () => {
    const second = await startJanus();
    const { buildApp } = await import('@spaces/api');
    const { createDb, spaces } = await import('@spaces/db');
    const { inArray } = await import('drizzle-orm');
    const db = await createDb({ url: t.databaseUrl, migrate: false });
    const app = await buildApp({
      database: db,
      serveWeb: false,
      port: 0,
      host: '127.0.0.1',
      mixers: [
        { name: 'one', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret },
        { name: 'two', url: second.httpUrl, adminKey: second.adminKey, apiSecret: second.apiSecret },
      ],
      presenceGraceMs: 600_000, // as startTestApp's: its presence sweep sees the suite's participants too
    });
    try {
      await app.start();
      const hosts = await users(t, 4, 'pl');
      const ids: string[] = [];
      const placed = async () => (await db.db.select().from(spaces).where(inArray(spaces.id, ids))).filter((s) => s.mixerRoom !== null);
      for (const host of hosts) {
        const userId = Buffer.from(host.id, 'base64url').toString().split(':')[1]!;
        ids.push((await app.services.spaces.create(userId, { title: 'Placed', speakerPolicy: 'EVERYONE' })).id);
        // Placement happens as the space goes live; one at a time, so each sees the load so far.
        await expect.poll(async () => (await placed()).length).toBe(ids.length);
      }
      const byInstance = (await placed()).reduce<Record<string, number>>((n, s) => ({ ...n, [s.mixerInstance!]: (n[s.mixerInstance!] ?? 0) + 1 }), {});
      expect(byInstance).toEqual({ one: 2, two: 2 });
      // Each room really exists on the instance it was placed on.
      for (const space of await placed()) expect(await inspectRoom(app, space.id)).toMatchObject({ instance: space.mixerInstance, room: space.mixerRoom });
    } finally {
      await app.stop();
      await db.close();
      await second.stop();
    }
  });
});

describe('two API instances on one Janus', () => {
  it('mutes at the mixer from the instance that took the mutation, whichever holds the audio', async () => {
    const { buildApp } = await import('@spaces/api');
    const { createDb } = await import('@spaces/db');
    const otherDb = await createDb({ url: t.databaseUrl, migrate: false });
    const other = await buildApp({
      database: otherDb,
      serveWeb: false,
      port: 0,
      host: '127.0.0.1',
      mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }],
      mixerPlainRtp: true,
      presenceGraceMs: 600_000, // as startTestApp's: its presence sweep sees the suite's participants too
    });
    await other.start();
    try {
      const [host, speaker, ear] = await users(t, 3, 'vm');
      const s = await space(host!);
      for (const u of [speaker, ear]) await must(t, Q.join, { s }, u);
      await must(t, Q.raise, { s, r: true }, speaker);
      await must(t, Q.role, { s, u: speaker!.id, role: 'SPEAKER' }, host);
      await must(t, Q.setMuted, { s, m: false }, speaker);
      // The speaker's audio goes through the other instance.
      const { space: sp } = await must(t, `query($s: ID!) { space(id: $s) { viewerParticipant { id } } }`, { s }, speaker);
      const speakerPid = Buffer.from(sp.viewerParticipant.id, 'base64url').toString().split(':')[1]!;
      const speakerEndpoint = await PlainRtpEndpoint.open();
      endpoints.push(speakerEndpoint);
      speakerEndpoint.connect(await other.services.mixer.connectPlainRtp(speakerPid, speakerEndpoint.offer));
      speakerEndpoint.setTone(TONES.speaker);
      speakerEndpoint.start();
      const { endpoint } = await connect(s, ear!, null);
      const tone = new ToneProbe(endpoint, TONES.speaker);
      await tone.waitFor(true);
      // The host's mute runs on this instance, which holds no handle for the speaker.
      await must(t, Q.mute, { s, u: speaker!.id }, host);
      await tone.waitFor(false);
      // Removal kicks it out of the room, again from this instance.
      const [row] = await t.app.services.spaces.participantsByIds([speakerPid]);
      expect(row!.mixerParticipantId).toBeTypeOf('number');
      const rawSpaceId = Buffer.from(s, 'base64url').toString().split(':')[1]!;
      const inRoom = async () => (await inspectRoom(t.app, rawSpaceId))!.participants.map((p) => p.id);
      expect(await inRoom()).toContain(row!.mixerParticipantId);
      await must(t, Q.remove, { s, u: speaker!.id }, host);
      await expect.poll(inRoom).not.toContain(row!.mixerParticipantId);
    } finally {
      await other.stop();
      await otherDb.close();
    }
  });
});

describe('Janus restart', () => {
  it('recreates the room, tells clients to reconnect, and a reconnected speaker is heard again', async () => {
    const [host, ear] = await users(t, 2, 'vr');
    const s = await space(host!);
    await must(t, Q.join, { s }, ear);
    await connect(s, host!, TONES.host);
    const first = await connect(s, ear!, null);
    await new ToneProbe(first.endpoint, TONES.host).waitFor(true);

    const client = wsClient(t.app.url!);
    const sub = subscribe<any>(client, EVENTS, { s }, (d) => d.spaceEvents);
    await new Promise((r) => setTimeout(r, 150));

    // Kill Janus hard, then bring it back where it was (what main.ts's supervisor does).
    const port = Number(new URL(janus.httpUrl).port);
    process.kill(janus.pid, 'SIGKILL');
    await expect.poll(() => janus.exited).toBe(true);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_UPDATED' && e.participant.audioConnected === false, 8000);
    janus = await startJanus({ httpPort: port, adminKey: janus.adminKey, apiSecret: janus.apiSecret });
    await sub.waitFor((e) => e.kind === 'AUDIO_RECONNECT', 10_000);

    await connect(s, host!, TONES.host);
    const again = await connect(s, ear!, null);
    await new ToneProbe(again.endpoint, TONES.host).waitFor(true);
    await client.dispose();
  }, 40_000);
});
