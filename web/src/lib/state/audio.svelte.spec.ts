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
  async setLocalDescription(d: { type: string; sdp: string }) {
    this.localDescription = d;
    this.iceGatheringState = 'gathering';
    // Candidates arrive a moment later; the offer must wait for them.
    setTimeout(() => {
      this.localDescription = { type: 'offer', sdp: 'v=0 with candidates' };
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

  it('a listener receives only, sends the offer after ICE gathering, and applies the answer', async () => {
    const { audio, env, signaling, pc } = setup();
    audio.sync(listen);
    expect(audio.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(10);
    expect(env.getUserMedia).not.toHaveBeenCalled();
    expect(pc().transceivers).toEqual([{ trackOrKind: 'audio', init: { direction: 'recvonly' } }]);
    expect(signaling.connect).toHaveBeenCalledWith('S1', 'v=0 with candidates');
    expect(pc().remoteDescription).toEqual({ type: 'answer', sdp: 'v=0 answer' });
    expect(audio.participantId).toBe('P9');
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.publishing).toBe(false);
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

  it('going on stage renegotiates with the microphone; leaving it, without', async () => {
    const { audio, pc, signaling, track } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    const first = pc();
    first.setConnectionState('connected');
    audio.sync(speak);
    expect(audio.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(10);
    expect(first.closed).toBe(true);
    expect(pc()).not.toBe(first);
    expect(pc().transceivers[0]?.init?.direction).toBe('sendrecv');
    expect(signaling.connect).toHaveBeenCalledTimes(2);
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    expect(track.stopped).toBe(true);
    expect(pc().transceivers[0]?.init?.direction).toBe('recvonly');
  });

  it('a failed connection retries with a new offer', async () => {
    const { audio, pc, signaling } = setup();
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(10);
    pc().setConnectionState('failed');
    expect(audio.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(120);
    expect(signaling.connect).toHaveBeenCalledTimes(2);
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
    expect(signaling.connect).toHaveBeenCalledOnce();
    pc().setConnectionState('disconnected');
    await vi.advanceTimersByTimeAsync(60);
    expect(signaling.connect).toHaveBeenCalledTimes(2);
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
    audio.sync(listen);
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
    audio.sync(listen);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(audio.state).toBe('unavailable');
    expect(signaling.connect).toHaveBeenCalledOnce();
    audio.sync(speak);
    audio.reconnect();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signaling.connect).toHaveBeenCalledOnce();
  });

  it('voice down on the server (CONFLICT) is unavailable for now, tried again later', async () => {
    const down = toAppError(graphQLError('CONFLICT', 'Voice is unavailable right now.'));
    let fail = true;
    const { audio, signaling } = setup({
      signaling: { connect: vi.fn(async () => (fail ? Promise.reject(down) : { answer: 'a', participantId: 'P9' })) },
    });
    audio.sync(listen);
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
    expect(signaling.connect).toHaveBeenCalledOnce();
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
    expect(signaling.connect).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(100);
    expect(audio.state).toBe('reconnecting');
    expect(audio.problem).toMatch(/Couldn't reach the audio server/);
    await vi.advanceTimersByTimeAsync(120);
    expect(first.closed).toBe(true);
    expect(signaling.connect).toHaveBeenCalledTimes(2);
    expect(signaling.iceServers).toHaveBeenCalledTimes(2);
    pc().setConnectionState('connected');
    expect(audio.state).toBe('live');
    expect(audio.problem).toBeNull();
    // Once up, the timer is gone: no further offers.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(signaling.connect).toHaveBeenCalledTimes(2);
  });

  it('a disconnect during connecting abandons that attempt', async () => {
    const { audio, signaling } = setup();
    audio.sync(listen);
    await audio.disconnect();
    await vi.advanceTimersByTimeAsync(50);
    expect(signaling.connect).not.toHaveBeenCalled();
    expect(audio.state).toBe('idle');
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

  it("the browser's peer connection gets the servers, max-bundle, and the switch's policy", () => {
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
        { bundlePolicy: 'max-bundle', iceServers: servers, iceTransportPolicy: 'all' },
        { bundlePolicy: 'max-bundle', iceServers: [], iceTransportPolicy: 'relay' },
      ]);
    } finally {
      localStorage.removeItem(ICE_TRANSPORT_POLICY_KEY);
      vi.unstubAllGlobals();
    }
  });
});
