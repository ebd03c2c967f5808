import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { startJanus, type RunningJanus } from '@spaces/janus';
import { startTestApp, type TestApp } from '../support/app.ts';
import { TONES, ToneProbe } from '../support/audio.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { LOUD_LEVEL, SILENT_LEVEL, WebRtcAudioClient, clientAddress } from '../support/webrtc.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/**
 * Real WebRTC end to end: werift clients send their complete offers through the public
 * connectAudio mutation, the API joins them to the space's AudioBridge room on a real Janus, and
 * what they hear is checked on the decoded audio. Runs inside scripts/netns.sh's namespace: Janus
 * offers 10.99.0.1 (spaces0); nothing can leave the namespace.
 */
let janus: RunningJanus | undefined;
let t: TestApp | undefined;
const clients: WebRtcAudioClient[] = [];
const sockets: Client[] = [];
/** Per connection, ms from sending connectAudio to: its answer, ICE connected, DTLS done, the first audio packet. */
const figures: { who: string; dtls: string; answerMs?: number; iceMs?: number; dtlsMs?: number; firstAudioMs?: number }[] = [];

beforeAll(async () => {
  janus = await startJanus({ ice: { enforceList: 'spaces0' } });
  // A short host grace period, for the dropped-host test (no other test has the host leave).
  t = await startTestApp({ mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }], hostGraceMs: 1500 });
  await t.app.start();
});

afterAll(async () => {
  if (figures.length > 0) {
    const line = (f: (typeof figures)[number]) =>
      `  ${f.who.padEnd(9)} setup:${f.dtls.padEnd(7)} answer ${f.answerMs} ms, ICE connected ${f.iceMs} ms, DTLS connected ${f.dtlsMs} ms, ` +
      `first audio packet ${f.firstAudioMs} ms`;
    const median = (k: 'answerMs' | 'iceMs' | 'dtlsMs' | 'firstAudioMs') => {
      const v = figures
        .filter((f) => f.dtls === 'actpass')
        .map((f) => f[k])
        .filter((x): x is number => x !== undefined)
        .sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)];
    };
    console.log(
      `[webrtc] client ICE address ${clientAddress()}; ms after sending connectAudio:\n${figures.map(line).join('\n')}\n` +
        `  median (actpass, as browsers offer): answer ${median('answerMs')} ms, ICE ${median('iceMs')} ms, DTLS ${median('dtlsMs')} ms, ` +
        `first audio ${median('firstAudioMs')} ms`,
    );
  }
  await Promise.allSettled(clients.map((c) => c.close()));
  await Promise.allSettled(sockets.map((s) => s.dispose()));
  await t?.close().catch((e) => console.error('[webrtc] app close failed', e));
  await janus?.stop();
});

const CONNECT = `mutation($s: ID!, $o: String!) { connectAudio(spaceId: $s, offer: $o) { answer participant { id audioConnected } } }`;
const DISCONNECT = `mutation($s: ID!) { disconnectAudio(spaceId: $s) }`;
const ME = `query($s: ID!) { space(id: $s) { viewerParticipant { id audioConnected speaking } } }`;

async function space(host: U) {
  const s = (await must(t!, Q.create, { input: { title: 'WebRTC', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id as string;
  // The host starts muted (issue 11); these suites want the host heard from the start.
  await must(t!, Q.setMuted, { s, m: false }, host);
  return s;
}

/**
 * Connects a user's audio over WebRTC through connectAudio. `tone`: what it sends (null: silence,
 * with the level extension saying silence); undefined with recvonly: it sends nothing.
 */
async function connect(
  s: string,
  user: U,
  options: { tone?: number | null; direction?: 'sendrecv' | 'recvonly'; dtlsSetup?: 'actpass' | 'active' } = {},
) {
  const direction = options.direction ?? 'sendrecv';
  const client = await WebRtcAudioClient.create({ name: user.handle, direction, dtlsSetup: options.dtlsSetup });
  clients.push(client);
  if (direction === 'sendrecv') {
    client.setTone(options.tone ?? null);
    client.start(); // from when DTLS is up
  }
  client.markRequestSent();
  const { connectAudio } = await must(t!, CONNECT, { s, o: client.offer }, user);
  const answeredAt = performance.now();
  expect(connectAudio.answer).toMatch(/^v=0/);
  await client.accept(connectAudio.answer);
  // The mixer negotiated the level extension (else Janus could never see anyone talking).
  expect(client.audioLevelExtensionId).toBeGreaterThan(0);
  await client.waitConnected();
  await client.waitFirstPacket(5000);
  const at = client.timings;
  figures.push({
    who: user.handle,
    dtls: client.dtlsSetup,
    answerMs: Math.round(answeredAt - at.requestSentAt!),
    iceMs: client.span('requestSentAt', 'iceConnectedAt'),
    dtlsMs: client.span('requestSentAt', 'connectedAt'),
    firstAudioMs: client.span('requestSentAt', 'firstPacketAt'),
  });
  return { client, participantId: connectAudio.participant.id as string };
}

const me = async (s: string, user: U) => (await must(t!, ME, { s }, user)).space.viewerParticipant;

describe('WebRTC audio through connectAudio', () => {
  it('a listener hears the host over WebRTC, and shows as audioConnected', async () => {
    const [host, listener] = await users(t!, 2, 'wa');
    const s = await space(host!);
    await must(t!, Q.join, { s }, listener);
    await connect(s, host!, { tone: TONES.host });
    const { client } = await connect(s, listener!, { direction: 'recvonly' });
    const hostTone = new ToneProbe(client, TONES.host);
    const heardAfterMs = await hostTone.waitFor(true);
    console.log(`[webrtc] host's tone detected in 15 frames in a row at the listener ${heardAfterMs} ms after its first packet`);
    expect(await hostTone.fractionOver(500)).toBeGreaterThan(0.9);
    await expect.poll(async () => (await me(s, listener!)).audioConnected, { timeout: 5000 }).toBe(true);
    await expect.poll(async () => (await me(s, host!)).audioConnected, { timeout: 5000 }).toBe(true);
  });

  it('a listener sending audio is not heard until approved and unmuted, and not after a moderator mute', async () => {
    const [host, listener, ear] = await users(t!, 3, 'wb');
    const s = await space(host!);
    for (const u of [listener, ear]) await must(t!, Q.join, { s }, u);
    await connect(s, host!, { tone: TONES.host });
    await connect(s, listener!, { tone: TONES.speaker }); // sends a loud tone from the start
    const { client: earClient } = await connect(s, ear!, { tone: null });
    const hostTone = new ToneProbe(earClient, TONES.host);
    const listenerTone = new ToneProbe(earClient, TONES.speaker);

    // The ear hears the room (so silence below is not a dead connection)...
    await hostTone.waitFor(true);
    // ...but not the listener.
    expect(await listenerTone.fractionOver(1000)).toBe(0);
    expect(listenerTone.framesSeen).toBeGreaterThan(30);

    // Approved as a speaker: still muted (speakers join the stage muted).
    await must(t!, Q.raise, { s, r: true }, listener);
    await must(t!, Q.role, { s, u: listener!.id, role: 'SPEAKER' }, host);
    expect(await listenerTone.fractionOver(400)).toBe(0);
    // Unmuted: heard.
    await must(t!, Q.setMuted, { s, m: false }, listener);
    await listenerTone.waitFor(true);

    // The host mutes them: silent again, while the host stays audible.
    await must(t!, Q.mute, { s, u: listener!.id }, host);
    await listenerTone.waitFor(false);
    expect(await listenerTone.fractionOver(500)).toBe(0);
    expect(await hostTone.fractionOver(500)).toBeGreaterThan(0.8);
  });

  it('speaking follows the audio-level extension of a WebRTC speaker, never of a listener', async () => {
    const [host, listener] = await users(t!, 2, 'wc');
    const s = await space(host!);
    await must(t!, Q.join, { s }, listener);
    const ws = wsClient(t!.app.url!);
    sockets.push(ws);
    const sub = subscribe<any>(ws, EVENTS, { s }, (d) => d.spaceEvents);
    await new Promise((r) => setTimeout(r, 150)); // subscribed before anything happens

    const { client: hostClient, participantId: hostPid } = await connect(s, host!, { tone: null });
    // A listener shouting (loud level) the whole time: muted at the mixer, so never "speaking".
    const { participantId: listenerPid } = await connect(s, listener!, { tone: TONES.listener });
    const speakingOf = (pid: string, speaking: boolean) => (e: any) =>
      e.kind === 'SPEAKING_CHANGED' && e.participant?.id === pid && e.participant.speaking === speaking;

    // Silence with level 127 for a while: no speaking event for the host.
    await new Promise((r) => setTimeout(r, 1000));
    expect(sub.events.filter(speakingOf(hostPid, true))).toEqual([]);
    expect(hostClient.lastLevelSent).toBe(SILENT_LEVEL);

    // A tone with level 20 (loud): speaking.
    const loudAt = performance.now();
    hostClient.setTone(TONES.host);
    await sub.waitFor(speakingOf(hostPid, true), 5000);
    const talkingAfterMs = Math.round(performance.now() - loudAt);
    expect(hostClient.lastLevelSent).toBe(LOUD_LEVEL);
    expect((await me(s, host!)).speaking).toBe(true);

    // Silence with level 127: speaking stops.
    const quietAt = performance.now();
    hostClient.setTone(null);
    await sub.waitFor(speakingOf(hostPid, false), 5000);
    const stoppedAfterMs = Math.round(performance.now() - quietAt);
    expect((await me(s, host!)).speaking).toBe(false);
    console.log(`[webrtc] SPEAKING_CHANGED true ${talkingAfterMs} ms after loud audio began, false ${stoppedAfterMs} ms after it stopped`);

    expect(sub.events.filter(speakingOf(listenerPid, true))).toEqual([]);
    expect((await me(s, listener!)).speaking).toBe(false);
    expect(sub.errors).toEqual([]);
  });

  it('disconnectAudio hangs up: audioConnected false, and no more audio arrives', async () => {
    const [host, listener] = await users(t!, 2, 'wd');
    const s = await space(host!);
    await must(t!, Q.join, { s }, listener);
    await connect(s, host!, { tone: TONES.host });
    // An offer with setup:active (werift as DTLS client) works too, and connects ~1 s sooner.
    const { client } = await connect(s, listener!, { tone: null, dtlsSetup: 'active' });
    await new ToneProbe(client, TONES.host).waitFor(true);
    await expect.poll(async () => (await me(s, listener!)).audioConnected, { timeout: 5000 }).toBe(true);

    expect((await must(t!, DISCONNECT, { s }, listener)).disconnectAudio).toBe(true);
    expect((await me(s, listener!)).audioConnected).toBe(false);
    // Janus stops sending to the hung-up client.
    await new Promise((r) => setTimeout(r, 300));
    const before = client.packetsReceived;
    await new Promise((r) => setTimeout(r, 600));
    expect(client.packetsReceived - before).toBeLessThanOrEqual(1);
    // A second hang-up is a no-op.
    expect((await must(t!, DISCONNECT, { s }, listener)).disconnectAudio).toBe(false);
    expect((await me(s, host!)).audioConnected).toBe(true);
  });

  it('a host whose audio drops without hanging up is away: the space ends after the grace period', async () => {
    const [host, listener] = await users(t!, 2, 'wh');
    const s = await space(host!);
    await must(t!, Q.join, { s }, listener);
    const { client } = await connect(s, host!, { tone: TONES.host });
    await expect.poll(async () => (await me(s, host!)).audioConnected, { timeout: 5000 }).toBe(true);
    const state = async () => (await must(t!, `query($s: ID!) { space(id: $s) { state } }`, { s })).space.state;
    // The host's client goes away (a crash or lost network), no disconnectAudio.
    await client.close();
    await expect.poll(state, { timeout: 10_000, interval: 250 }).toBe('ENDED');
  });
});
