import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { startJanus, type RunningJanus } from '@spaces/janus';
import { startTestApp, type TestApp } from '../support/app.ts';
import { TONES, ToneProbe } from '../support/audio.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { WebRtcAudioClient } from '../support/webrtc.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/**
 * The audience tier for real: listeners get the stage's mix through a Janus Streaming mountpoint
 * fed by rtp_forward (listenAudio → answerAudio), werift clients in the test's network namespace,
 * and what they hear is checked on the decoded audio. The stage is in the AudioBridge room.
 */
const clients: WebRtcAudioClient[] = [];
const sockets: Client[] = [];

const CONNECT = `mutation($s: ID!, $o: String!) { connectAudio(spaceId: $s, offer: $o) { answer participant { id audioTier } } }`;
const LISTEN = `mutation($s: ID!) { listenAudio(spaceId: $s) { id offer participant { id role audioTier audioConnected } } }`;
const ANSWER = `mutation($s: ID!, $id: ID!, $a: String!) { answerAudio(spaceId: $s, offerId: $id, answer: $a) { id audioTier } }`;
const ME = `query($s: ID!) { space(id: $s) { viewerParticipant { id role audioConnected audioTier } } }`;

async function openSpace(t: TestApp, host: U) {
  const s = (await must(t, Q.create, { input: { title: 'Audience', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id as string;
  // The host starts muted (issue 11); these suites want the host heard from the start.
  await must(t, Q.setMuted, { s, m: false }, host);
  return s;
}

/** A stage member's WebRTC connection through connectAudio, sending `tone`. */
async function onStage(t: TestApp, s: string, user: U, tone: number | null) {
  const client = await WebRtcAudioClient.create({ name: user.handle, direction: 'sendrecv' });
  clients.push(client);
  client.setTone(tone);
  client.start();
  const { connectAudio } = await must(t, CONNECT, { s, o: client.offer }, user);
  expect(connectAudio.participant.audioTier).toBe('STAGE');
  await client.accept(connectAudio.answer);
  await client.waitConnected();
  return client;
}

/** A listener's receive-only connection through the audience tier. */
async function listen(t: TestApp, s: string, user: U) {
  const startedAt = performance.now();
  const { listenAudio } = await must(t, LISTEN, { s }, user);
  expect(listenAudio.offer).toMatch(/^v=0/);
  expect(listenAudio.participant.audioTier).toBe('AUDIENCE');
  const client = await WebRtcAudioClient.answering(listenAudio.offer, { name: user.handle });
  clients.push(client);
  client.timings.requestSentAt = startedAt;
  const { answerAudio } = await must(t, ANSWER, { s, id: listenAudio.id, a: client.answerSdp }, user);
  expect(answerAudio.audioTier).toBe('AUDIENCE');
  await client.waitConnected();
  await client.waitFirstPacket(5000);
  return client;
}

const me = async (t: TestApp, s: string, user: U) => (await must(t, ME, { s }, user)).space.viewerParticipant;

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await Promise.allSettled(sockets.map((s) => s.dispose()));
});

describe('one Janus: the stage mixes, the audience receives a relay', () => {
  let janus: RunningJanus | undefined;
  let t: TestApp;

  beforeAll(async () => {
    janus = await startJanus({ ice: { enforceList: 'spaces0' } });
    t = await startTestApp({ mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }] });
    await t.app.start();
  });
  afterAll(async () => {
    await t?.close().catch((e) => console.error('[audience] app close failed', e));
    await janus?.stop();
  });

  it('a listener hears the stage through the relay, and a muted speaker is silent in it too', async () => {
    const [host, speaker, listener] = await users(t, 3, 'aa');
    const s = await openSpace(t, host!);
    for (const u of [speaker, listener]) await must(t, Q.join, { s }, u);
    await must(t, Q.raise, { s }, speaker);
    await must(t, Q.role, { s, u: speaker!.id, role: 'SPEAKER' }, host);
    await onStage(t, s, host!, TONES.host);
    const speakerClient = await onStage(t, s, speaker!, TONES.speaker);
    await must(t, Q.setMuted, { s, m: false }, speaker);

    const ear = await listen(t, s, listener!);
    console.log(`[audience] listenAudio → first packet through the relay: ${ear.span('requestSentAt', 'firstPacketAt')} ms`);
    const hostTone = new ToneProbe(ear, TONES.host);
    const speakerTone = new ToneProbe(ear, TONES.speaker);
    await hostTone.waitFor(true);
    await speakerTone.waitFor(true);
    await expect.poll(async () => (await me(t, s, listener!)).audioConnected, { timeout: 5000 }).toBe(true);
    expect((await me(t, s, listener!)).audioTier).toBe('AUDIENCE');

    // The relay carries the room's mix: a moderator mute silences the speaker for the audience too.
    await must(t, Q.mute, { s, u: speaker!.id }, host);
    await speakerTone.waitFor(false);
    expect(await hostTone.fractionOver(400)).toBeGreaterThan(0.9);
    expect(speakerClient.packetsSent).toBeGreaterThan(0);
  });

  it('stage members are refused the relay; listeners past the mixer seats are pointed to it', async () => {
    const [host, listener] = await users(t, 2, 'ab');
    const s = await openSpace(t, host!);
    await must(t, Q.join, { s }, listener);
    const refused = await t.gql(LISTEN, { s }, { token: host!.token });
    expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const bad = await t.gql(ANSWER, { s, id: 'nope', a: 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n' }, { token: listener!.token });
    expect(bad.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('promotion moves a listener to the stage: heard by the audience, never hearing themselves; demotion silences them again', async () => {
    const [host, riser, other] = await users(t, 3, 'ac');
    const s = await openSpace(t, host!);
    for (const u of [riser, other]) await must(t, Q.join, { s }, u);
    await onStage(t, s, host!, TONES.host);
    const riserEar = await listen(t, s, riser!);
    const otherEar = await listen(t, s, other!);
    const riserTone = new ToneProbe(otherEar, TONES.listener);
    await new ToneProbe(otherEar, TONES.host).waitFor(true);

    await must(t, Q.raise, { s }, riser);
    await must(t, Q.role, { s, u: riser!.id, role: 'SPEAKER' }, host);
    // The client switches tiers: a stage connection replaces the relay.
    const before = riserEar.packetsReceived;
    const riserStage = await onStage(t, s, riser!, TONES.listener);
    await must(t, Q.setMuted, { s, m: false }, riser);
    const heardAfter = await riserTone.waitFor(true, { timeoutMs: 5000 });
    console.log(`[audience] promoted listener heard through the relay ${heardAfter} ms after unmuting`);
    expect((await me(t, s, riser!)).audioTier).toBe('STAGE');
    // The relay connection was let go: no more packets on it.
    await new Promise((r) => setTimeout(r, 500));
    const settled = riserEar.packetsReceived;
    await new Promise((r) => setTimeout(r, 500));
    expect(riserEar.packetsReceived).toBe(settled);
    expect(settled).toBeGreaterThan(before);
    // In the mixer they hear the host, and never their own voice.
    const ownVoice = new ToneProbe(riserStage, TONES.listener);
    await new ToneProbe(riserStage, TONES.host).waitFor(true);
    expect(await ownVoice.fractionOver(500)).toBeLessThan(0.05);

    await must(t, Q.role, { s, u: riser!.id, role: 'LISTENER' }, host);
    await riserTone.waitFor(false, { timeoutMs: 5000 });
  });
});

describe('a mixing Janus and an audience edge', () => {
  let mix: RunningJanus | undefined;
  let edge: RunningJanus | undefined;
  let t: TestApp;

  beforeAll(async () => {
    mix = await startJanus({ ice: { enforceList: 'spaces0' } });
    edge = await startJanus({ ice: { enforceList: 'spaces0' } });
    const instance = (name: string, j: RunningJanus) => ({ name, url: j.httpUrl, adminKey: j.adminKey, apiSecret: j.apiSecret });
    t = await startTestApp({
      mixers: [
        // The mixer serves audiences too, but the edge has more headroom: listeners go there first.
        { ...instance('mix', mix), role: 'both', capacity: 10 },
        { ...instance('edge', edge), role: 'edge', capacity: 1000 },
      ],
    });
    await t.app.start();
  });
  afterAll(async () => {
    await t?.close().catch((e) => console.error('[audience] app close failed', e));
    await Promise.allSettled([mix?.stop(), edge?.stop()]);
  });

  it('listeners on the edge hear the stage; when the edge dies they are told, move, and hear again', async () => {
    const [host, a, b] = await users(t, 3, 'ad');
    const s = await openSpace(t, host!);
    for (const u of [a, b]) await must(t, Q.join, { s }, u);
    const ws = wsClient(t.app.url!, { token: a!.token });
    sockets.push(ws);
    const events = subscribe<any>(ws, EVENTS, { s }, (d) => d.spaceEvents);
    const hostWs = wsClient(t.app.url!, { token: host!.token });
    sockets.push(hostWs);
    const hostEvents = subscribe<any>(hostWs, EVENTS, { s }, (d) => d.spaceEvents);
    await new Promise((r) => setTimeout(r, 150));

    await onStage(t, s, host!, TONES.host);
    const earA = await listen(t, s, a!);
    const earB = await listen(t, s, b!);
    await new ToneProbe(earA, TONES.host).waitFor(true);
    await new ToneProbe(earB, TONES.host).waitFor(true);
    const raw = (id: string) => Buffer.from(id, 'base64url').toString().split(':')[1]!;
    const placement = async (u: U) =>
      (await t.app.services.spaces.presentParticipants([{ spaceId: raw(s), userId: raw(u.id) }]))[0]?.audioInstance;
    expect([await placement(a!), await placement(b!)]).toEqual(['edge', 'edge']);

    const killedAt = performance.now();
    process.kill(edge!.pid, 'SIGKILL');
    // Only the edge's listeners are told to reconnect (the host's stage connection is fine).
    const told = await events.waitFor((e) => e.kind === 'AUDIO_RECONNECT', 10_000);
    const toldMs = Math.round(performance.now() - killedAt);
    const again = await listen(t, s, a!);
    await new ToneProbe(again, TONES.host).waitFor(true);
    const hearingMs = Math.round(performance.now() - killedAt);
    console.log(`[audience] edge killed → AUDIO_RECONNECT at the listener ${toldMs} ms → hearing again via "mix" ${hearingMs} ms`);
    expect(told.kind).toBe('AUDIO_RECONNECT');
    expect(hostEvents.events.some((e) => e.kind === 'AUDIO_RECONNECT')).toBe(false);
    expect(await placement(a!)).toBe('mix');
  });
});
