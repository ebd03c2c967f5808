import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  JanusError,
  JanusSession,
  startJanus,
  type AudioBridgeHandle,
  type AudioBridgeParticipant,
  type RunningJanus,
} from '../src/index.ts';
import { PlainRtpEndpoint } from '../src/testing.ts';
import { decibels, framesIn, ToneProbe } from './tone-probe.ts';

const TONE_HZ = 440;
const ROOM_SECRET = 'moderator-secret';

let janus: RunningJanus;
let session: JanusSession;
let admin: AudioBridgeHandle;
const endpoints: PlainRtpEndpoint[] = [];

beforeAll(async () => {
  janus = await startJanus();
  console.info(`janus ready after ${janus.readyAfterMs} ms at ${janus.httpUrl}`);
  session = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret });
  admin = await session.attachAudioBridge({ adminKey: janus.adminKey });
});

afterAll(async () => {
  // Each step on its own, so that Janus is stopped even when an earlier step throws.
  await Promise.allSettled(endpoints.map((endpoint) => endpoint.close()));
  await session?.destroy().catch(() => {});
  await janus?.stop();
});

async function openEndpoint() {
  const endpoint = await PlainRtpEndpoint.open();
  endpoints.push(endpoint);
  return endpoint;
}

/** Rejects with the JanusError the promise fails with, or fails the test if it succeeds. */
async function janusError(promise: Promise<unknown>): Promise<JanusError> {
  const error = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(JanusError);
  return error as JanusError;
}

describe('rooms and errors', () => {
  test('create, exists, destroy', async () => {
    const { room } = await admin.create({ description: 'lifecycle', secret: ROOM_SECRET });
    expect(room).toBeGreaterThan(0);
    expect(await admin.exists(room)).toBe(true);
    await admin.destroy(room, { secret: ROOM_SECRET });
    expect(await admin.exists(room)).toBe(false);
  });

  test('creating an existing room fails with 486 room-exists', async () => {
    const { room } = await admin.create({ secret: ROOM_SECRET });
    const error = await janusError(admin.create({ room }));
    expect(error).toMatchObject({ code: 486, kind: 'room-exists', request: 'create' });
    await admin.destroy(room, { secret: ROOM_SECRET });
  });

  test('create needs the admin_key: missing is 483, wrong is 489', async () => {
    const withoutKey = await session.attachAudioBridge();
    const wrongKey = await session.attachAudioBridge({ adminKey: 'not-the-key' });
    expect(await janusError(withoutKey.create())).toMatchObject({ code: 483, kind: 'missing-element' });
    expect(await janusError(wrongKey.create())).toMatchObject({ code: 489, kind: 'unauthorized' });
    await Promise.all([withoutKey.detach(), wrongKey.detach()]);
  });

  test('a wrong room secret is 489, an unknown participant 492, a missing room 485', async () => {
    const { room } = await admin.create({ secret: ROOM_SECRET });
    const participant = await session.attachAudioBridge();
    const { id } = await participant.join({ room, display: 'listener' });

    expect(await janusError(admin.mute(room, id, { secret: 'wrong' }))).toMatchObject({ code: 489, kind: 'unauthorized' });
    expect(await janusError(admin.destroy(room, { secret: 'wrong' }))).toMatchObject({ code: 489 });
    expect(await janusError(admin.kick(room, id + 1, { secret: ROOM_SECRET }))).toMatchObject({
      code: 492,
      kind: 'no-such-user',
    });
    expect(await janusError(admin.listParticipants(room + 1))).toMatchObject({ code: 485, kind: 'no-such-room' });
    // join is asynchronous: its error arrives as an event, not in the HTTP reply.
    const other = await session.attachAudioBridge();
    expect(await janusError(other.join({ room: room + 1 }))).toMatchObject({ code: 485, request: 'join' });

    await admin.destroy(room, { secret: ROOM_SECRET });
    await Promise.all([participant.detach(), other.detach()]);
  });

  test('joining with a WebRTC offer returns the SDP answer from the join event', async () => {
    const { room } = await admin.create({});
    const participant = await session.attachAudioBridge();
    const joined = await participant.join({ room, display: 'browser', jsep: { type: 'offer', sdp: FAKE_AUDIO_OFFER } });
    expect(joined.jsep.type).toBe('answer');
    expect(joined.jsep.sdp).toMatch(/^m=audio .* 111$/m);
    expect(joined.jsep.sdp).toContain('urn:ietf:params:rtp-hdrext:ssrc-audio-level');
    await participant.configure({ muted: true });
    const [listed] = await admin.listParticipants(room);
    expect(listed).toMatchObject({ id: joined.id, display: 'browser', muted: true });
    // No ICE candidates of ours were sent, so Janus sends no media anywhere; hang up at once.
    await participant.hangup();
    await admin.destroy(room);
    await participant.detach();
  });
});

describe('audio through the mix, plain RTP on 127.0.0.1', () => {
  let room: number;
  let speaker: AudioBridgeHandle;
  let listener: AudioBridgeHandle;
  let speakerId: number;
  let listenerId: number;
  let speakerRtp: PlainRtpEndpoint;
  let listenerProbe: ToneProbe;
  const joinedSeenBySpeaker: AudioBridgeParticipant[] = [];
  const updatesSeenByListener: AudioBridgeParticipant[] = [];

  beforeAll(async () => {
    ({ room } = await admin.create({ secret: ROOM_SECRET, allow_rtp_participants: true, default_prebuffering: 2 }));
    speaker = await session.attachAudioBridge();
    listener = await session.attachAudioBridge();
    speaker.on('participant-joined', (participant) => joinedSeenBySpeaker.push(participant));
    listener.on('participant-updated', (participant) => updatesSeenByListener.push(participant));

    speakerRtp = await openEndpoint();
    const listenerRtp = await openEndpoint();
    listenerProbe = new ToneProbe(listenerRtp, TONE_HZ);

    const speakerJoin = await speaker.join({ room, display: 'speaker', rtp: speakerRtp.offer });
    const listenerJoin = await listener.join({ room, display: 'listener', rtp: listenerRtp.offer });
    expect(speakerJoin.rtp).toMatchObject({ ip: '127.0.0.1', payload_type: 111 });
    speakerId = speakerJoin.id;
    listenerId = listenerJoin.id;
    speakerRtp.connect(speakerJoin.rtp);
    listenerRtp.connect(listenerJoin.rtp);
    // Both send (silence for now): Janus sends a plain-RTP participant nothing until it heard from it.
    speakerRtp.start();
    listenerRtp.start();
  });

  test('the listener hears the speaker’s 440 Hz tone, and not before it starts', async () => {
    expect(joinedSeenBySpeaker.map((participant) => participant.id)).toContain(listenerId);

    await listenerProbe.waitFor(false);
    const baseline = await listenerProbe.measure(1000);
    expect(baseline.frames).toBeGreaterThanOrEqual(framesIn(1000) * 0.8);
    expect(baseline.detectedFraction).toBe(0);

    speakerRtp.setTone(TONE_HZ);
    const latencyMs = await listenerProbe.waitFor(true);
    const tone = await listenerProbe.measure(1000);
    console.info(
      `tone at listener: amplitude ${tone.meanAmplitude.toFixed(0)} vs silent baseline ` +
        `${baseline.meanAmplitude.toFixed(3)} (${decibels(tone.meanAmplitude, baseline.meanAmplitude).toFixed(0)} dB), ` +
        `vs reference frequency ${tone.meanReferenceAmplitude.toFixed(0)} ` +
        `(${decibels(tone.meanAmplitude, tone.meanReferenceAmplitude).toFixed(1)} dB); ` +
        `10 clean frames ${latencyMs} ms after the tone started`,
    );
    expect(tone.detectedFraction).toBeGreaterThan(0.95);
    expect(tone.meanAmplitude).toBeGreaterThan(3000); // sent at 0.3 of full scale, ~9800
    expect(decibels(tone.meanAmplitude, baseline.meanAmplitude)).toBeGreaterThan(40);
  });

  test('a moderator mute silences the speaker; unmute brings the tone back', async () => {
    await admin.mute(room, speakerId, { secret: ROOM_SECRET });
    const muteMs = await listenerProbe.waitFor(false);
    const muted = await listenerProbe.measure(1000);
    expect(muted.detectedFraction).toBe(0);
    expect(updatesSeenByListener).toContainEqual(expect.objectContaining({ id: speakerId, muted: true }));
    expect((await admin.listParticipants(room)).find((p) => p.id === speakerId)?.muted).toBe(true);

    await admin.unmute(room, speakerId, { secret: ROOM_SECRET });
    const unmuteMs = await listenerProbe.waitFor(true);
    const unmuted = await listenerProbe.measure(1000);
    console.info(
      `mute: 10 silent frames in a row ${muteMs} ms after the request (muted amplitude ${muted.meanAmplitude.toFixed(3)}); ` +
        `unmute: 10 tone frames in a row after ${unmuteMs} ms (amplitude ${unmuted.meanAmplitude.toFixed(0)}, ` +
        `${(unmuted.detectedFraction * 100).toFixed(0)}% of frames)`,
    );
    expect(unmuted.detectedFraction).toBeGreaterThan(0.95);
    expect(updatesSeenByListener).toContainEqual(expect.objectContaining({ id: speakerId, muted: false }));
  });

  test('rtp_forward sends the room mix to a local UDP port until stopped', async () => {
    const forwardTarget = await openEndpoint();
    const forwardProbe = new ToneProbe(forwardTarget, TONE_HZ);
    // lock_rtp_forward: the admin handle's admin_key goes along; the room secret too.
    const forwarder = await admin.rtpForward({
      room,
      host: forwardTarget.host,
      port: forwardTarget.port,
      ptype: 111,
      secret: ROOM_SECRET,
    });
    expect(forwarder.stream_id).toBeGreaterThan(0);
    expect((await admin.listForwarders(room, { secret: ROOM_SECRET })).map((f) => f.stream_id)).toContain(
      forwarder.stream_id,
    );
    await forwardProbe.waitFor(true);
    const forwarded = await forwardProbe.measure(500);
    console.info(`rtp_forward: tone amplitude ${forwarded.meanAmplitude.toFixed(0)} in the forwarded mix`);
    expect(forwarded.detectedFraction).toBeGreaterThan(0.95);

    await admin.stopRtpForward(room, forwarder.stream_id, { secret: ROOM_SECRET });
    await new Promise((resolve) => setTimeout(resolve, 200)); // packets already in flight
    const packetsAfterStop = forwardTarget.packetsReceived;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(forwardTarget.packetsReceived).toBe(packetsAfterStop);
  });

  test('kick removes the speaker from the room and from the mix', async () => {
    const kickedBySpeaker = speaker.waitFor('kicked', { timeoutMs: 3000 });
    const kickSeenByListener = listener.waitFor('participant-kicked', { timeoutMs: 3000 });
    const kickedAt = performance.now();
    await admin.kick(room, speakerId, { secret: ROOM_SECRET });
    let ids: number[] = [];
    // Janus may remove the participant shortly after the kick reply rather than within it.
    while (performance.now() - kickedAt < 3000) {
      ids = (await admin.listParticipants(room)).map((p) => p.id);
      if (!ids.includes(speakerId)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const goneAfterMs = Math.round(performance.now() - kickedAt);
    expect(ids).toEqual([listenerId]);
    expect(await kickedBySpeaker).toEqual([room]);
    expect(await kickSeenByListener).toEqual([speakerId, room]);
    console.info(`kick: gone from listparticipants ${goneAfterMs} ms after the request`);
    await listenerProbe.waitFor(false);
    expect(speaker.joined).toBeUndefined();
  });
});

/** A minimal audio-only offer, as a browser would send, with no ICE candidates (none are needed). */
const FAKE_AUDIO_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:sPcs',
  'a=ice-pwd:fJ8b1qnTZaW0Gh4sLp2xY7Qk',
  'a=ice-options:trickle',
  `a=fingerprint:sha-256 ${Array.from({ length: 32 }, (_, i) => ((i * 7) % 256).toString(16).padStart(2, '0').toUpperCase()).join(':')}`,
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=ssrc:1001 cname:spaces-test',
  '',
].join('\r\n');
