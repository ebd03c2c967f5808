import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { graphQLError } from '$lib/testing/fake-api';
import { toAppError } from '$lib/errors';
import { FakeApi } from '$lib/testing/fake-api';
import {
  AudioConnection,
  audioSignaling,
  browserAudioEnvironment,
  ICE_TRANSPORT_POLICY_KEY,
  iceTransportPolicy,
  isAudioUnsupported,
  type AudioEnvironment,
  type AudioSignaling,
} from './audio.svelte';

/** Just enough of RTCPeerConnection to drive AudioConnection. */
class FakePeerConnection extends EventTarget {
  static all: FakePeerConnection[] = [];
  transceivers: { trackOrKind: unknown; init: RTCRtpTransceiverInit | undefined }[] = [];
  iceGatheringState: RTCIceGatheringState = 'new';
  connectionState: RTCPeerConnectionState = 'new';
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  closed = false;

  constructor(readonly iceServers: RTCIceServer[] = []) {
    super();
    FakePeerConnection.all.push(this);
  }
  addTransceiver(trackOrKind: unknown, init?: RTCRtpTransceiverInit) {
    this.transceivers.push({ trackOrKind, init });
  }
  async createOffer() {
    return { type: 'offer', sdp: 'v=0 partial' };
  }
  async createAnswer() {
    if (this.remoteDescription?.type !== 'offer') throw new Error('no offer to answer');
    return { type: 'answer', sdp: 'v=0 partial' };
  }
  async setLocalDescription(d: { type: string; sdp: string }) {
    this.localDescription = d;
    this.iceGatheringState = 'gathering';
    // Candidates arrive a moment later; the offer (or answer) must wait for them.
    setTimeout(() => {
      this.localDescription = { type: d.type, sdp: 'v=0 with candidates' };
      this.iceGatheringState = 'complete';
      this.dispatchEvent(new Event('icegatheringstatechange'));
    }, 5);
  }
  async setRemoteDescription(d: RTCSessionDescriptionInit) {
    this.remoteDescription = d;
  }
  setConnectionState(state: RTCPeerConnectionState) {
    this.connectionState = state;
    this.dispatchEvent(new Event('connectionstatechange'));
  }
  close() {
    this.closed = true;
  }
}

class FakeTrack {
  enabled = true;
  stopped = false;
  stop() {
    this.stopped = true;
  }
}

function setup(options: { mic?: 'ok' | 'blocked' | 'none'; signaling?: Partial<AudioSignaling> } = {}) {
  FakePeerConnection.all = [];
  let offers = 0;
  const track = new FakeTrack();
  const stream = { getAudioTracks: () => [track], getTracks: () => [track] } as unknown as MediaStream;
  const played: MediaStream[] = [];
  const env: AudioEnvironment = {
    createPeerConnection: (iceServers) => new FakePeerConnection(iceServers) as unknown as RTCPeerConnection,
    getUserMedia: vi.fn(async () => {
      if (options.mic === 'blocked') throw Object.assign(new Error('denied'), { name: 'NotAllowedError' });
      if (options.mic === 'none') throw Object.assign(new Error('none'), { name: 'NotFoundError' });
      return stream;
    }),
    play: (s) => {
      played.push(s);
      return { stop: () => {}, started: Promise.resolve() };
    },
  };
  const signaling = {
    iceServers: vi.fn(async (): Promise<RTCIceServer[]> => []),
    connect: vi.fn(async (_spaceId: string, _offer: string) => ({ answer: 'v=0 answer', participantId: 'P9' })),
    listen: vi.fn(async (_spaceId: string) => ({ offerId: `O${++offers}`, offer: 'v=0 relay offer', participantId: 'P9' })),
    answer: vi.fn(async (_spaceId: string, _offerId: string, _answer: string) => ({ participantId: 'P9' })),
    disconnect: vi.fn(async () => {}),
    ...options.signaling,
  };
  const audio = new AudioConnection(signaling, env, {
    retryDelayMs: () => 100,
    disconnectGraceMs: 50,
    iceTimeoutMs: 1_000,
    connectTimeoutMs: 2_000,
  });
  const pc = () => FakePeerConnection.all.at(-1)!;
  return { audio, env, signaling, track, pc, played };
}

const listen = { spaceId: 'S1', publish: false, muted: true };
const speak = { spaceId: 'S1', publish: true, muted: false };

describe('AudioConnection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a listener answers the audience relay: its offer applied, the complete answer sent after ICE gathering, no mic', async () => {
    const { audio, env, signaling, pc } = setup();
    audio.sync(listen);
    expect(audio.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(10);
    expect(env.getUserMedia).not.toHaveBeenCalled();
    expect(signaling.connect).not.toHaveBeenCalled();
    expect(signaling.listen).toHaveBeenCalledWith('S1');
    expect(FakePeerConnection.all).toHaveLength(1);
    // The server's offer decides the media: nothing is added on our side.
    expect(pc().transceivers).toEqual([]);
    expect(pc().remoteDescription).toEqual({ type: 'offer', sdp: 'v=0 relay offer' });
    expect(pc().localDescription?.type).toBe('answer');
    expect(signaling.answer).toHaveBeenCalledWith('S1', 'O1', 'v=0 with candidates');
    expect(audio.participantId).toBe('P9');
    expect(audio.tier).toBeNull();
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.tier).toBe('AUDIENCE');
    expect(audio.publishing).toBe(false);
  });

  it('waits for ICE gathering before answering', async () => {
    const { audio, signaling } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(2);
    expect(signaling.listen).toHaveBeenCalledOnce();
    expect(signaling.answer).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(10);
    expect(signaling.answer).toHaveBeenCalledOnce();
  });

  it('plays what the mixer sends', async () => {
    const { audio, pc, played } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    const remote = { id: 'mix' } as unknown as MediaStream;
    pc().dispatchEvent(Object.assign(new Event('track'), { streams: [remote], track: {} }));
    expect(played).toEqual([remote]);
  });

  it('the stage sends the microphone (sendrecv), muted or not as the room says', async () => {
    const { audio, env, pc, track } = setup();
    audio.sync({ ...speak, muted: true });
    await vi.advanceTimersByTimeAsync(10);
    expect(env.getUserMedia).toHaveBeenCalledOnce();
    expect(pc().transceivers[0]?.trackOrKind).toBe(track);
    expect(pc().transceivers[0]?.init?.direction).toBe('sendrecv');
    expect(track.enabled).toBe(false);
    pc().setConnectionState('connected');
    audio.sync(speak);
    expect(track.enabled).toBe(true);
    expect(FakePeerConnection.all).toHaveLength(1);
    expect(audio.state).toBe('live');
  });

  it('a blocked microphone still listens, and says so', async () => {
    const { audio, pc } = setup({ mic: 'blocked' });
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    expect(pc().transceivers[0]?.init?.direction).toBe('recvonly');
    pc().setConnectionState('connected');
    expect(audio.state).toBe('mic-blocked');
    expect(audio.problem).toMatch(/microphone is blocked/);
  });

  it('going on stage is seamless: the audience connection plays until the stage one is up', async () => {
    const { audio, pc, signaling, env, track } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    const listening = pc();
    listening.setConnectionState('connected');
    expect(audio.tier).toBe('AUDIENCE');

    audio.sync({ ...speak, muted: true });
    expect(audio.state).toBe('switching');
    expect(audio.switchingTo).toBe('STAGE');
    await vi.advanceTimersByTimeAsync(10);
    const stage = pc();
    expect(stage).not.toBe(listening);
    expect(env.getUserMedia).toHaveBeenCalledOnce();
    expect(stage.transceivers[0]?.trackOrKind).toBe(track);
    expect(stage.transceivers[0]?.init?.direction).toBe('sendrecv');
    expect(signaling.connect).toHaveBeenCalledWith('S1', 'v=0 with candidates');
    expect(track.enabled).toBe(false);
    // Not up yet: still hearing the space through the audience tier.
    expect(listening.closed).toBe(false);
    expect(audio.state).toBe('switching');
    expect(audio.tier).toBe('AUDIENCE');

    stage.setConnectionState('connected');
    expect(listening.closed).toBe(true);
    expect(stage.closed).toBe(false);
    expect(audio.state).toBe('live');
    expect(audio.tier).toBe('STAGE');
    expect(audio.switchingTo).toBeNull();
    expect(audio.publishing).toBe(true);
    // Switching is not leaving: the server's connection is replaced, not dropped.
    expect(signaling.disconnect).not.toHaveBeenCalled();
    // The old connection's late events change nothing.
    listening.setConnectionState('failed');
    await vi.advanceTimersByTimeAsync(500);
    expect(audio.state).toBe('live');
    expect(FakePeerConnection.all).toHaveLength(2);
  });

  it('leaving the stage silences the mic at once and moves to the audience before closing the stage connection', async () => {
    const { audio, pc, signaling, track } = setup();
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    const stage = pc();
    stage.setConnectionState('connected');
    expect(track.enabled).toBe(true);

    audio.sync(listen);
    expect(track.enabled).toBe(false);
    expect(audio.state).toBe('switching');
    expect(audio.switchingTo).toBe('AUDIENCE');
    await vi.advanceTimersByTimeAsync(10);
    expect(signaling.listen).toHaveBeenCalledOnce();
    expect(signaling.answer).toHaveBeenCalledOnce();
    expect(stage.closed).toBe(false);
    expect(track.stopped).toBe(false);
    pc().setConnectionState('connected');
    expect(stage.closed).toBe(true);
    expect(track.stopped).toBe(true);
    expect(audio.tier).toBe('AUDIENCE');
    expect(audio.state).toBe('live');
    expect(audio.publishing).toBe(false);
  });

  it('a switch that fails keeps the old connection playing and tries again', async () => {
    let fail = true;
    const { audio, pc, signaling } = setup({
      signaling: {
        connect: vi.fn(async () => {
          if (fail) throw toAppError(graphQLError('INTERNAL_SERVER_ERROR', 'x'));
          return { answer: 'a', participantId: 'P9' };
        }),
      },
    });
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    const listening = pc();
    listening.setConnectionState('connected');
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    expect(signaling.connect).toHaveBeenCalledOnce();
    expect(audio.state).toBe('switching');
    expect(audio.problem).toMatch(/on our side/);
    expect(listening.closed).toBe(false);
    fail = false;
    await vi.advanceTimersByTimeAsync(120);
    expect(signaling.connect).toHaveBeenCalledTimes(2);
    expect(listening.closed).toBe(false);
    pc().setConnectionState('connected');
    expect(listening.closed).toBe(true);
    expect(audio.state).toBe('live');
    expect(audio.problem).toBeNull();
    expect(audio.tier).toBe('STAGE');
  });

  it('promoted and demoted again before the stage connection was up: the half-made one is dropped, the old plays on', async () => {
    const { audio, pc, signaling } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    const listening = pc();
    listening.setConnectionState('connected');
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    const stage = pc();
    audio.sync(listen);
    expect(stage.closed).toBe(true);
    expect(listening.closed).toBe(false);
    expect(audio.state).toBe('switching');
    expect(audio.switchingTo).toBe('AUDIENCE');
    // The server replaced the audience connection when the stage one was asked for: a new one is
    // made, and the old one plays until it is up.
    await vi.advanceTimersByTimeAsync(10);
    expect(signaling.listen).toHaveBeenCalledTimes(2);
    expect(FakePeerConnection.all).toHaveLength(3);
    expect(listening.closed).toBe(false);
    pc().setConnectionState('connected');
    expect(listening.closed).toBe(true);
    expect(audio.state).toBe('live');
    expect(audio.tier).toBe('AUDIENCE');
  });

  it('a CONFLICT naming listenAudio is followed: the audience tier instead of the mixer', async () => {
    const full = toAppError(graphQLError('CONFLICT', 'The mixer is full.', { useInstead: 'listenAudio' }));
    const { audio, pc, signaling, track } = setup({ signaling: { connect: vi.fn(async () => Promise.reject(full)) } });
    // The room still thinks we are on stage (a demotion on its way), the server does not.
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(20);
    expect(signaling.connect).toHaveBeenCalledOnce();
    expect(track.stopped).toBe(true);
    expect(signaling.listen).toHaveBeenCalledOnce();
    expect(signaling.answer).toHaveBeenCalledOnce();
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.tier).toBe('AUDIENCE');
    expect(audio.problem).toBeNull();
  });

  it('an API without the audience tier: listeners listen through connectAudio (receive-only), once asked', async () => {
    const missing = toAppError(graphQLError('BAD_USER_INPUT', 'Cannot query field "listenAudio" on type "Mutation".'));
    const { audio, pc, signaling } = setup({ signaling: { listen: vi.fn(async () => Promise.reject(missing)) } });
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    expect(signaling.listen).toHaveBeenCalledOnce();
    expect(signaling.connect).toHaveBeenCalledWith('S1', 'v=0 with candidates');
    expect(pc().transceivers).toEqual([{ trackOrKind: 'audio', init: { direction: 'recvonly' } }]);
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.tier).toBe('STAGE');
    audio.reconnect();
    await vi.advanceTimersByTimeAsync(10);
    expect(signaling.listen).toHaveBeenCalledOnce();
    expect(signaling.connect).toHaveBeenCalledTimes(2);
  });

  it('AUDIO_RECONNECT on the audience tier asks the relay for a new offer', async () => {
    const { audio, pc, signaling } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    const first = pc();
    first.setConnectionState('connected');
    audio.reconnect();
    expect(audio.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(10);
    expect(first.closed).toBe(true);
    expect(signaling.listen).toHaveBeenCalledTimes(2);
    expect(signaling.answer).toHaveBeenLastCalledWith('S1', 'O2', 'v=0 with candidates');
    expect(signaling.connect).not.toHaveBeenCalled();
    pc().setConnectionState('connected');
    expect(audio.tier).toBe('AUDIENCE');
  });

  it('a failed connection retries with a new offer', async () => {
    const { audio, pc, signaling } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    pc().setConnectionState('failed');
    expect(audio.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(120);
    expect(signaling.listen).toHaveBeenCalledTimes(2);
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
  });

  it('a short disconnection gets a grace period before reconnecting', async () => {
    const { audio, pc, signaling } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    pc().setConnectionState('connected');
    pc().setConnectionState('disconnected');
    await vi.advanceTimersByTimeAsync(20);
    pc().setConnectionState('connected');
    await vi.advanceTimersByTimeAsync(100);
    expect(signaling.listen).toHaveBeenCalledOnce();
    pc().setConnectionState('disconnected');
    await vi.advanceTimersByTimeAsync(60);
    expect(signaling.listen).toHaveBeenCalledTimes(2);
  });

  it('signaling errors retry; the mixer restarting (reconnect) sends a new offer at once', async () => {
    let calls = 0;
    const { audio, signaling } = setup({
      signaling: {
        connect: vi.fn(async () => {
          calls++;
          if (calls === 1) throw toAppError(graphQLError('INTERNAL_SERVER_ERROR', 'x'));
          return { answer: 'a', participantId: 'P9' };
        }),
      },
    });
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    expect(audio.state).toBe('reconnecting');
    expect(audio.problem).toMatch(/on our side/);
    await vi.advanceTimersByTimeAsync(120);
    expect(signaling.connect).toHaveBeenCalledTimes(2);
    audio.reconnect();
    await vi.advanceTimersByTimeAsync(10);
    expect(signaling.connect).toHaveBeenCalledTimes(3);
  });

  it('an API without connectAudio shows audio as unavailable and does not retry', async () => {
    const missing = toAppError(graphQLError('BAD_USER_INPUT', 'Cannot query field "connectAudio" on type "Mutation".'));
    expect(isAudioUnsupported(missing)).toBe(true);
    const { audio, signaling } = setup({ signaling: { connect: vi.fn(async () => Promise.reject(missing)) } });
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(audio.state).toBe('unavailable');
    expect(signaling.connect).toHaveBeenCalledOnce();
    audio.sync(listen);
    audio.reconnect();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signaling.connect).toHaveBeenCalledOnce();
    expect(signaling.listen).not.toHaveBeenCalled();
  });

  it('voice down on the server (CONFLICT) is unavailable for now, tried again later', async () => {
    const down = toAppError(graphQLError('CONFLICT', 'Voice is unavailable right now.'));
    let fail = true;
    const { audio, signaling } = setup({
      signaling: { connect: vi.fn(async () => (fail ? Promise.reject(down) : { answer: 'a', participantId: 'P9' })) },
    });
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    expect(audio.state).toBe('unavailable');
    expect(audio.problem).toBe('Voice is unavailable right now.');
    fail = false;
    await vi.advanceTimersByTimeAsync(10_100);
    expect(signaling.connect).toHaveBeenCalledTimes(2);
    expect(audio.state).toBe('reconnecting');
    FakePeerConnection.all.at(-1)!.setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.problem).toBeNull();
  });

  it('a CONFLICT that says when to try again (a relay being set up) is tried again then, not in 10 s', async () => {
    const wait = toAppError(graphQLError('CONFLICT', 'Voice for this space is reconnecting.', { retryAfterMs: 1000 }));
    let fail = true;
    const { audio, signaling, pc } = setup({
      signaling: {
        listen: vi.fn(async () => (fail ? Promise.reject(wait) : { offerId: 'O2', offer: 'v=0 relay offer', participantId: 'P9' })),
      },
    });
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    expect(audio.state).toBe('unavailable');
    fail = false;
    await vi.advanceTimersByTimeAsync(900);
    expect(signaling.listen).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(120);
    expect(signaling.listen).toHaveBeenCalledTimes(2);
    expect(signaling.answer).toHaveBeenCalledWith('S1', 'O2', 'v=0 with candidates');
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
  });

  it('disconnect closes everything and tells the server once', async () => {
    const { audio, pc, signaling, track } = setup();
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    pc().setConnectionState('connected');
    audio.sync({ spaceId: null, publish: false, muted: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(pc().closed).toBe(true);
    expect(track.stopped).toBe(true);
    expect(signaling.disconnect).toHaveBeenCalledWith('S1');
    expect(audio.state).toBe('idle');
    audio.sync({ spaceId: null, publish: false, muted: true });
    expect(signaling.disconnect).toHaveBeenCalledOnce();
  });

  it('uses the ICE servers the API gives, asked for again for each connection (TURN credentials expire)', async () => {
    let n = 0;
    const turn = () => ({ urls: ['turn:turn.example:3478?transport=udp'], username: `${1000 + n}:U1`, credential: `c${n++}` });
    const { audio, pc, signaling } = setup({ signaling: { iceServers: vi.fn(async () => [{ urls: ['stun:stun.example'] }, turn()]) } });
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    expect(pc().iceServers).toEqual([{ urls: ['stun:stun.example'] }, { urls: ['turn:turn.example:3478?transport=udp'], username: '1000:U1', credential: 'c0' }]);
    expect(signaling.listen).toHaveBeenCalledOnce();
    pc().setConnectionState('failed');
    await vi.advanceTimersByTimeAsync(120);
    expect(signaling.iceServers).toHaveBeenCalledTimes(2);
    expect(pc().iceServers[1]).toMatchObject({ username: '1001:U1', credential: 'c1' });
  });

  it('connects directly when there are no ICE servers, or asking for them fails', async () => {
    const { audio, pc, signaling } = setup({
      signaling: { iceServers: vi.fn(async () => Promise.reject(toAppError(graphQLError('INTERNAL_SERVER_ERROR', 'x')))) },
    });
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    expect(pc().iceServers).toEqual([]);
    expect(signaling.connect).toHaveBeenCalledOnce();
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.problem).toBeNull();
  });

  it('a connection that never comes up (no usable candidate, e.g. TURN refused) is tried again', async () => {
    const { audio, pc, signaling } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    const first = pc();
    // The browser stays in 'new' for ever: no 'failed' ever comes.
    await vi.advanceTimersByTimeAsync(1_900);
    expect(audio.state).toBe('connecting');
    expect(signaling.answer).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(100);
    expect(audio.state).toBe('reconnecting');
    expect(audio.problem).toMatch(/Couldn't reach the audio server/);
    await vi.advanceTimersByTimeAsync(120);
    expect(first.closed).toBe(true);
    expect(signaling.answer).toHaveBeenCalledTimes(2);
    expect(signaling.iceServers).toHaveBeenCalledTimes(2);
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.problem).toBeNull();
    // Once up, the timer is gone: no further offers.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(signaling.answer).toHaveBeenCalledTimes(2);
  });

  it('a disconnect during connecting abandons that attempt', async () => {
    const { audio, signaling } = setup();
    audio.sync(listen);
    await audio.disconnect();
    await vi.advanceTimersByTimeAsync(50);
    expect(signaling.connect).not.toHaveBeenCalled();
    expect(signaling.answer).not.toHaveBeenCalled();
    expect(FakePeerConnection.all).toEqual([]);
    expect(audio.state).toBe('idle');
  });
});

describe('audience signaling over the API', () => {
  it('listenAudio gives the offer and its id; answerAudio sends the answer for that id', async () => {
    const api = new FakeApi()
      .on('ListenAudio', { listenAudio: { id: 'O7', offer: 'v=0 relay', participant: { id: 'P3' } } })
      .on('AnswerAudio', { answerAudio: { id: 'P3', audioTier: 'AUDIENCE' } });
    const signaling = audioSignaling(api);
    expect(await signaling.listen('S1')).toEqual({ offerId: 'O7', offer: 'v=0 relay', participantId: 'P3' });
    expect(await signaling.answer('S1', 'O7', 'v=0 answer')).toEqual({ participantId: 'P3' });
    expect(api.callsTo('ListenAudio')[0]?.variables).toEqual({ spaceId: 'S1' });
    expect(api.callsTo('AnswerAudio')[0]?.variables).toEqual({ spaceId: 'S1', offerId: 'O7', answer: 'v=0 answer' });
  });

  it('a CONFLICT with useInstead reaches the connection as such', async () => {
    const api = new FakeApi().on('ConnectAudio', graphQLError('CONFLICT', 'Listen instead.', { useInstead: 'listenAudio' }));
    const error = await audioSignaling(api).connect('S1', 'v=0').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFLICT', useInstead: 'listenAudio' });
  });
});

describe('ICE servers from the API', () => {
  it('are passed on as RTCIceServers: STUN without credentials, TURN with them', async () => {
    const api = new FakeApi().on('IceServers', {
      iceServers: [
        { urls: ['stun:stun.example:3478'], username: null, credential: null },
        { urls: ['turn:turn.example:3478', 'turns:turn.example:5349'], username: '1700000000:U1', credential: 'c2VjcmV0' },
      ],
    });
    expect(await audioSignaling(api).iceServers()).toEqual([
      { urls: ['stun:stun.example:3478'] },
      { urls: ['turn:turn.example:3478', 'turns:turn.example:5349'], username: '1700000000:U1', credential: 'c2VjcmV0' },
    ]);
  });

  it('relay-only is a hidden switch in localStorage, off unless set to "relay"', () => {
    expect(iceTransportPolicy(undefined)).toBe('all');
    expect(iceTransportPolicy({ getItem: () => null })).toBe('all');
    expect(iceTransportPolicy({ getItem: () => 'something' })).toBe('all');
    expect(iceTransportPolicy({ getItem: (k) => (k === ICE_TRANSPORT_POLICY_KEY ? 'relay' : null) })).toBe('relay');
    expect(
      iceTransportPolicy({
        getItem: () => {
          throw new Error('storage disabled');
        },
      }),
    ).toBe('all');
  });

  it("the browser's peer connection gets the servers, max-bundle, the switch's policy, and gathers at once", () => {
    const configs: RTCConfiguration[] = [];
    vi.stubGlobal(
      'RTCPeerConnection',
      class {
        constructor(config: RTCConfiguration) {
          configs.push(config);
        }
      },
    );
    try {
      const servers = [{ urls: ['turn:turn.example:3478'], username: 'u', credential: 'c' }];
      browserAudioEnvironment().createPeerConnection(servers);
      localStorage.setItem(ICE_TRANSPORT_POLICY_KEY, 'relay');
      browserAudioEnvironment().createPeerConnection([]);
      expect(configs).toEqual([
        { bundlePolicy: 'max-bundle', iceServers: servers, iceTransportPolicy: 'all', iceCandidatePoolSize: 1 },
        { bundlePolicy: 'max-bundle', iceServers: [], iceTransportPolicy: 'relay', iceCandidatePoolSize: 1 },
      ]);
    } finally {
      localStorage.removeItem(ICE_TRANSPORT_POLICY_KEY);
      vi.unstubAllGlobals();
    }
  });
});

describe('AudioConnection: its state in words (issue 11)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('the microphone blocked: micBlocked, so the mic button cannot look on', async () => {
    const { audio, pc } = setup({ mic: 'blocked' });
    audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    expect(audio.micBlocked).toBe(true);
    pc().setConnectionState('connected');
    expect(audio.micBlocked).toBe(true);
    const allowed = setup();
    allowed.audio.sync(speak);
    await vi.advanceTimersByTimeAsync(10);
    allowed.pc().setConnectionState('connected');
    expect(allowed.audio.micBlocked).toBe(false);
  });

  it("failing twice in a row is \"can't reach audio\"; Retry tries at once; a connection that comes up clears it", async () => {
    let fail = true;
    const { audio, pc, signaling } = setup({
      signaling: {
        listen: vi.fn(async () => {
          if (fail) throw toAppError(new Error('network down'));
          return { offerId: 'O1', offer: 'v=0 relay offer', participantId: 'P9' };
        }),
      },
    });
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    expect(audio.state).toBe('reconnecting');
    expect(audio.unreachable).toBe(false);
    await vi.advanceTimersByTimeAsync(110);
    expect(audio.unreachable).toBe(true);
    const calls = vi.mocked(signaling.listen).mock.calls.length;
    fail = false;
    audio.retry();
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.mocked(signaling.listen).mock.calls.length).toBe(calls + 1);
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.unreachable).toBe(false);
  });

  it('offline says so; back online, it connects again at once', async () => {
    const { audio, pc, signaling } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    pc().setConnectionState('connected');
    audio.setOnline(false);
    expect(audio.online).toBe(false);
    expect(audio.unreachable).toBe(false);
    audio.setOnline(true);
    expect(audio.online).toBe(true);
    await vi.advanceTimersByTimeAsync(10);
    expect(signaling.listen).toHaveBeenCalledTimes(2);
  });
});
