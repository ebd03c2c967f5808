/**
 * The audio of a space: one RTCPeerConnection to the server's mixer.
 *
 * Stage roles (host, co-host, speaker) send their microphone and receive the mix (sendrecv);
 * listeners only receive it (recvonly). The offer is sent whole, after ICE gathering is
 * complete (no trickle), through `connectAudio(spaceId, offer) { answer participant { id } }`,
 * and the answer is applied. The connection is dropped with `disconnectAudio(spaceId)`.
 * Before each connection it asks the API for STUN/TURN servers (`iceServers`: TURN credentials
 * are per user and short-lived); without any (none configured, or an older API) it connects
 * directly.
 *
 * A hidden switch for checking a TURN setup from a browser: `localStorage['spaces.iceTransportPolicy']
 * = 'relay'` makes every connection relay-only (see docs/deploy.md); remove it to go back.
 *
 * This is kept apart from the rest of the space page on purpose: the page only tells it what it
 * should be doing (`sync(plan)`), and it works out connecting, reconnecting and the microphone.
 */
import { AppError, toAppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import { ConnectAudioMutation, DisconnectAudioMutation, IceServersQuery } from '$lib/graphql/audio';
import type { AudioPlan } from './space-room.svelte';

export type AudioState =
  /** Not connected, and not meant to be. */
  | 'idle'
  /** First connection under way. */
  | 'connecting'
  /** Connected: hearing the space (and heard, on stage). */
  | 'live'
  /** Connection lost (or the mixer restarted): trying again. */
  | 'reconnecting'
  /** On stage but the browser refused the microphone: connected as a listener. */
  | 'mic-blocked'
  /** The server does not offer audio (yet). */
  | 'unavailable';

/** The calls to the server. */
export interface AudioSignaling {
  /** STUN/TURN servers for the next connection (possibly none). */
  iceServers(): Promise<RTCIceServer[]>;
  connect(spaceId: string, offer: string): Promise<{ answer: string; participantId: string }>;
  disconnect(spaceId: string): Promise<void>;
}

/** What the browser provides; specs pass fakes. */
export interface AudioEnvironment {
  createPeerConnection(iceServers: RTCIceServer[]): RTCPeerConnection;
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>;
  /** Plays what the mixer sends; returns a function that stops it. May reject when autoplay is blocked. */
  play(stream: MediaStream): { stop(): void; started: Promise<void> };
}

/** The localStorage key of the hidden relay-only switch (for checking TURN; see docs/deploy.md). */
export const ICE_TRANSPORT_POLICY_KEY = 'spaces.iceTransportPolicy';

/** 'relay' when the hidden switch says so, else 'all' (also where storage is unavailable). */
export function iceTransportPolicy(storage: Pick<Storage, 'getItem'> | undefined): RTCIceTransportPolicy {
  try {
    return storage?.getItem(ICE_TRANSPORT_POLICY_KEY) === 'relay' ? 'relay' : 'all';
  } catch {
    return 'all';
  }
}

function localStorageOrUndefined(): Storage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}

export const browserAudioEnvironment = (): AudioEnvironment => ({
  createPeerConnection: (iceServers) =>
    new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      iceServers,
      iceTransportPolicy: iceTransportPolicy(localStorageOrUndefined()),
    }),
  getUserMedia: (constraints) => navigator.mediaDevices.getUserMedia(constraints),
  play(stream) {
    const element = new Audio();
    element.autoplay = true;
    element.srcObject = stream;
    return {
      started: element.play(),
      stop() {
        element.pause();
        element.srcObject = null;
      },
    };
  },
});

/** Resolves when ICE gathering is complete (or after `timeoutMs`, with what was gathered). */
export function waitForIceGathering(pc: RTCPeerConnection, timeoutMs = 5_000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** The API has no connectAudio yet (the request does not validate against its schema). */
export function isAudioUnsupported(error: AppError): boolean {
  const cause = error.cause as { graphQLErrors?: { message?: string }[] } | undefined;
  const messages = [error.message, ...(cause?.graphQLErrors ?? []).map((e) => e.message ?? '')];
  return messages.some((m) => /Cannot query field "(connectAudio|disconnectAudio)"/.test(m)) ||
    (error.code === 'BAD_USER_INPUT' && /out of date/.test(error.message));
}

const MIC_CONSTRAINTS: MediaStreamConstraints = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  video: false,
};

export interface AudioOptions {
  /** Delay before a retry, by attempt (1-based). */
  retryDelayMs?: (attempt: number) => number;
  /** How long a 'disconnected' connection may take to come back by itself. */
  disconnectGraceMs?: number;
  iceTimeoutMs?: number;
  /**
   * How long after the answer the connection may take to come up before it counts as failed and
   * is tried again. A browser left without any usable candidate (e.g. relay-only with a TURN server
   * that refuses it) otherwise waits in 'new' for ever.
   */
  connectTimeoutMs?: number;
}

export class AudioConnection {
  state = $state<AudioState>('idle');
  /** Words for the last problem, for the person (null when all is well). */
  problem = $state<string | null>(null);
  /** The browser blocked playback until the person interacts (see `resumePlayback`). */
  playbackBlocked = $state(false);
  /** The participant the server tied this connection to. */
  participantId = $state<string | null>(null);

  #signaling: AudioSignaling;
  #env: AudioEnvironment;
  #options: Required<AudioOptions>;
  #plan: AudioPlan = { spaceId: null, publish: false, muted: true };
  #pc: RTCPeerConnection | null = null;
  #mic: MediaStream | null = null;
  #player: { stop(): void } | null = null;
  #remote: MediaStream | null = null;
  /** Bumped by every (re)connect and disconnect: work of an older attempt stops when it sees a newer one. */
  #generation = 0;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #graceTimer: ReturnType<typeof setTimeout> | null = null;
  #setupTimer: ReturnType<typeof setTimeout> | null = null;
  /** The space the server holds a connection of ours for. */
  #connectedSpace: string | null = null;
  #publishing = false;
  /** The API has no audio mutations: stay 'unavailable' without retrying. */
  #unsupported = false;

  constructor(signaling: AudioSignaling, env: AudioEnvironment, options: AudioOptions = {}) {
    this.#signaling = signaling;
    this.#env = env;
    this.#options = {
      retryDelayMs: options.retryDelayMs ?? ((attempt) => Math.min(15_000, 1_000 * 2 ** (attempt - 1))),
      disconnectGraceMs: options.disconnectGraceMs ?? 3_000,
      iceTimeoutMs: options.iceTimeoutMs ?? 5_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 20_000,
    };
  }

  /** Whether the microphone is being sent (on stage, mic allowed). */
  get publishing(): boolean {
    return this.#publishing;
  }

  /**
   * Makes the connection match what the room needs: none, listening, or on stage; muted or not.
   * Idempotent: calling it again with the same plan does nothing.
   */
  sync(plan: AudioPlan): void {
    const before = this.#plan;
    this.#plan = { ...plan };
    if (!plan.spaceId) {
      if (before.spaceId || this.state !== 'idle') void this.disconnect();
      return;
    }
    if (this.#unsupported) {
      this.state = 'unavailable';
      return;
    }
    const needsConnection = before.spaceId !== plan.spaceId || this.state === 'idle';
    // Going on stage needs a new offer with the microphone; leaving it, one without.
    const roleChanged = before.publish !== plan.publish;
    if (needsConnection || roleChanged) {
      void this.#connect(needsConnection && this.state === 'idle' ? 'connecting' : 'reconnecting');
      return;
    }
    this.#applyMute();
  }

  /** Sends a new offer (the mixer restarted, or the connection failed). */
  reconnect(): void {
    if (this.#plan.spaceId && !this.#unsupported) void this.#connect('reconnecting');
  }

  /** Ends the connection and tells the server. */
  async disconnect(): Promise<void> {
    this.#generation++;
    this.#clearTimers();
    this.#teardown();
    const spaceId = this.#connectedSpace;
    this.#connectedSpace = null;
    this.#plan = { spaceId: null, publish: false, muted: true };
    this.state = 'idle';
    this.problem = null;
    this.participantId = null;
    this.#attempt = 0;
    if (spaceId) await this.#signaling.disconnect(spaceId).catch(() => undefined);
  }

  /** Plays the space after the browser blocked autoplay (call from a click). */
  resumePlayback(): void {
    if (!this.#remote) return;
    this.#player?.stop();
    this.#startPlayer(this.#remote);
  }

  async #connect(kind: 'connecting' | 'reconnecting'): Promise<void> {
    const generation = ++this.#generation;
    const spaceId = this.#plan.spaceId;
    if (!spaceId) return;
    this.#clearTimers();
    this.#teardown();
    this.state = kind;
    const stale = () => generation !== this.#generation;
    // Asked for alongside the microphone; failing to get them is not fatal (direct connection).
    const iceServers = this.#signaling.iceServers().catch((): RTCIceServer[] => []);

    let micBlocked = false;
    if (this.#plan.publish) {
      try {
        this.#mic = await this.#env.getUserMedia(MIC_CONSTRAINTS);
      } catch (error) {
        if (stale()) return;
        micBlocked = true;
        this.problem = micProblem(error);
      }
      if (stale()) {
        this.#stopMic();
        return;
      }
    }

    const servers = await iceServers;
    if (stale()) {
      this.#stopMic();
      return;
    }
    let pc: RTCPeerConnection;
    try {
      pc = this.#env.createPeerConnection(servers);
    } catch {
      this.state = 'unavailable';
      this.problem = "This browser can't play live audio.";
      return;
    }
    this.#pc = pc;
    const track = this.#mic?.getAudioTracks()[0];
    if (track && this.#mic) {
      pc.addTransceiver(track, { direction: 'sendrecv', streams: [this.#mic] });
      this.#publishing = true;
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
      this.#publishing = false;
    }
    this.#applyMute();
    pc.addEventListener('track', (event) => {
      if (stale()) return;
      const stream = (event as RTCTrackEvent).streams[0] ?? new MediaStream([(event as RTCTrackEvent).track]);
      this.#remote = stream;
      this.#player?.stop();
      this.#startPlayer(stream);
    });
    pc.addEventListener('connectionstatechange', () => {
      if (!stale()) this.#onConnectionState(pc.connectionState, micBlocked);
    });

    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      await waitForIceGathering(pc, this.#options.iceTimeoutMs);
      if (stale()) return;
      const sdp = pc.localDescription?.sdp ?? offer.sdp ?? '';
      const { answer, participantId } = await this.#signaling.connect(spaceId, sdp);
      if (stale()) return;
      this.#connectedSpace = spaceId;
      this.participantId = participantId;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      if (stale()) return;
      if (!micBlocked) this.problem = null;
      // Some environments report 'connected' before the answer is applied.
      if (pc.connectionState === 'connected') this.#onConnectionState('connected', micBlocked);
      else
        this.#setupTimer = setTimeout(() => {
          this.#setupTimer = null;
          if (stale() || pc.connectionState === 'connected') return;
          this.problem = "Couldn't reach the audio server from this network. Trying again…";
          this.#scheduleRetry();
        }, this.#options.connectTimeoutMs);
    } catch (error) {
      if (stale()) return;
      const appError = toAppError(error);
      if (isAudioUnsupported(appError)) {
        // An API without the audio mutations: nothing to retry until the page is reloaded.
        this.#teardown();
        this.#unsupported = true;
        this.state = 'unavailable';
        this.problem = "Live audio isn't available on this server yet.";
        return;
      }
      this.problem = appError.message;
      if (appError.code === 'CONFLICT') {
        // Voice is down on the server (or we are not in the space yet): try again, slowly.
        this.#teardown();
        this.state = 'unavailable';
        this.#scheduleRetry(Math.max(this.#options.retryDelayMs(this.#attempt + 1), 10_000), false);
        return;
      }
      this.#scheduleRetry();
    }
  }

  #onConnectionState(state: RTCPeerConnectionState, micBlocked: boolean): void {
    switch (state) {
      case 'connected':
        if (this.#graceTimer) clearTimeout(this.#graceTimer);
        if (this.#setupTimer) clearTimeout(this.#setupTimer);
        this.#graceTimer = null;
        this.#setupTimer = null;
        this.#attempt = 0;
        this.state = micBlocked ? 'mic-blocked' : 'live';
        break;
      case 'disconnected':
        // Often comes back by itself (a network blip); give it a moment before a new offer.
        if (!this.#graceTimer)
          this.#graceTimer = setTimeout(() => {
            this.#graceTimer = null;
            if (this.#pc?.connectionState !== 'connected') this.reconnect();
          }, this.#options.disconnectGraceMs);
        break;
      case 'failed':
        this.#scheduleRetry();
        break;
      default:
        break;
    }
  }

  #scheduleRetry(delayMs?: number, showReconnecting = true): void {
    if (showReconnecting) this.state = 'reconnecting';
    if (this.#retryTimer) return;
    this.#attempt++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.reconnect();
    }, delayMs ?? this.#options.retryDelayMs(this.#attempt));
  }

  #applyMute(): void {
    // The mixer mutes too; this keeps a muted microphone from sending anything at all.
    for (const track of this.#mic?.getAudioTracks() ?? []) track.enabled = !this.#plan.muted;
  }

  #startPlayer(stream: MediaStream): void {
    const player = this.#env.play(stream);
    this.#player = player;
    this.playbackBlocked = false;
    player.started.catch(() => {
      if (this.#player === player) this.playbackBlocked = true;
    });
  }

  #stopMic(): void {
    for (const track of this.#mic?.getTracks() ?? []) track.stop();
    this.#mic = null;
  }

  #teardown(): void {
    this.#player?.stop();
    this.#player = null;
    this.#remote = null;
    this.playbackBlocked = false;
    if (this.#pc) {
      this.#pc.close();
      this.#pc = null;
    }
    this.#stopMic();
    this.#publishing = false;
  }

  #clearTimers(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    if (this.#setupTimer) clearTimeout(this.#setupTimer);
    this.#retryTimer = null;
    this.#graceTimer = null;
    this.#setupTimer = null;
  }
}

function micProblem(error: unknown): string {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return 'Your microphone is blocked. Allow it in the browser to be heard; until then you can listen.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError')
    return 'No microphone was found. Connect one to be heard; until then you can listen.';
  return "Your microphone couldn't start. You can still listen.";
}

/** The signaling calls, over the API (see $lib/graphql/audio for the documents). */
export function audioSignaling(api: Api): AudioSignaling {
  return {
    async iceServers() {
      const { iceServers } = await api.query(IceServersQuery, {});
      return iceServers.map(({ urls, username, credential }) => ({
        urls,
        ...(username != null ? { username } : {}),
        ...(credential != null ? { credential } : {}),
      }));
    },
    async connect(spaceId, offer) {
      const { connectAudio } = await api.mutate(ConnectAudioMutation, { spaceId, offer });
      return { answer: connectAudio.answer, participantId: connectAudio.participant.id };
    },
    async disconnect(spaceId) {
      await api.mutate(DisconnectAudioMutation, { spaceId });
    },
  };
}
