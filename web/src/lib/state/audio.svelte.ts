/**
 * The audio of a space, on one of two tiers (issue 10):
 *
 * - Stage (host, co-host, speaker): one RTCPeerConnection to the server's mixer, sending the
 *   microphone and receiving the mix (sendrecv). The offer is sent whole, after ICE gathering is
 *   complete (no trickle), through `connectAudio(spaceId, offer) { answer participant { id } }`,
 *   and the answer is applied.
 * - Audience (listeners): one receive-only RTCPeerConnection to a relay of the mix. The server
 *   offers (`listenAudio(spaceId) { id offer }`), the browser answers after ICE gathering
 *   (`answerAudio(spaceId, offerId, answer)`). No microphone is asked for.
 *
 * Switching tiers (a listener promoted or accepting an invitation; a speaker leaving the stage) is
 * make-before-break: the new connection is opened while the old one keeps playing, and the old one
 * is closed once the new one is up; meanwhile `state` is 'switching' and `switchingTo` says where.
 * A reconnect (failure, AUDIO_RECONNECT) is on the tier the room says. If the API has no
 * audience tier, listeners use connectAudio (receive-only) as before; a CONFLICT naming
 * `useInstead` (e.g. connectAudio for a listener when the mixer has no seat to spare) is followed.
 * The connection is dropped with `disconnectAudio(spaceId)`.
 * Before each connection it asks the API for STUN/TURN servers (`iceServers`: TURN credentials
 * are per user and short-lived); without any (none configured, or an older API) it connects
 * directly.
 *
 * A hidden switch for checking a TURN setup from a browser: `localStorage['spaces.iceTransportPolicy']
 * = 'relay'` makes every connection relay-only (see docs/deploy.md); remove it to go back.
 *
 * This is kept apart from the rest of the space page on purpose: the page only tells it what it
 * should be doing (`sync(plan)`), and it works out connecting, reconnecting, switching and the
 * microphone.
 */
import { AppError, toAppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  AnswerAudioMutation,
  ConnectAudioMutation,
  DisconnectAudioMutation,
  IceServersQuery,
  ListenAudioMutation,
} from '$lib/graphql/audio';
import type { AudioPlan } from './space-room.svelte';

/** Which tier carries the audio: the stage's mixer, or the audience's relay of the mix. */
export type AudioTier = 'STAGE' | 'AUDIENCE';

export type AudioState =
  /** Not connected, and not meant to be. */
  | 'idle'
  /** First connection under way. */
  | 'connecting'
  /** Connected: hearing the space (and heard, on stage). */
  | 'live'
  /** Moving to the other tier (see `switchingTo`): the old connection plays until the new one is up. */
  | 'switching'
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
  /** Stage tier: our offer in, the mixer's answer out. */
  connect(spaceId: string, offer: string): Promise<{ answer: string; participantId: string }>;
  /** Audience tier: the relay's offer. */
  listen(spaceId: string): Promise<{ offerId: string; offer: string; participantId: string }>;
  /** Audience tier: our complete answer to that offer. */
  answer(spaceId: string, offerId: string, answer: string): Promise<{ participantId: string }>;
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
      // Gathers candidates as soon as the connection exists: a listener's is made while the relay's
      // offer is on its way, so the complete answer is ready sooner.
      iceCandidatePoolSize: 1,
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

function schemaMessages(error: AppError): string[] {
  const cause = error.cause as { graphQLErrors?: { message?: string }[] } | undefined;
  return [error.message, ...(cause?.graphQLErrors ?? []).map((e) => e.message ?? '')];
}

/** The API has no audience tier yet (listenAudio/answerAudio do not validate): listen through connectAudio. */
export function isListenUnsupported(error: AppError): boolean {
  return schemaMessages(error).some((m) => /Cannot query field "(listenAudio|answerAudio|audioTier)"/.test(m));
}

/** The API has no connectAudio yet (the request does not validate against its schema). */
export function isAudioUnsupported(error: AppError): boolean {
  return schemaMessages(error).some((m) => /Cannot query field "(connectAudio|disconnectAudio)"/.test(m)) ||
    (error.code === 'BAD_USER_INPUT' && /out of date/.test(error.message) && !isListenUnsupported(error));
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

/** One RTCPeerConnection on one tier. During a switch there are two: the old one keeps playing. */
interface Leg {
  readonly spaceId: string;
  readonly tier: AudioTier;
  /** Made to send the microphone (a stage connection; the mic may still have been blocked). */
  readonly publish: boolean;
  readonly pc: RTCPeerConnection;
  mic: MediaStream | null;
  micBlocked: boolean;
  player: { stop(): void } | null;
  remote: MediaStream | null;
  /** Reached 'connected'. */
  up: boolean;
  closed: boolean;
}

/** The browser could not make an RTCPeerConnection at all. */
class NoPeerConnection extends Error {}

export class AudioConnection {
  state = $state<AudioState>('idle');
  /** Words for the last problem, for the person (null when all is well). */
  problem = $state<string | null>(null);
  /** The browser blocked playback until the person interacts (see `resumePlayback`). */
  playbackBlocked = $state(false);
  /** The participant the server tied this connection to. */
  participantId = $state<string | null>(null);
  /** The browser is online (navigator.onLine and its events, through `setOnline`). */
  #online = $state(true);
  /** Failed attempts in a row since the last connection that came up (for "Can't reach audio"). */
  #failures = $state(0);

  #tier = $state<AudioTier | null>(null);
  #switchingTo = $state<AudioTier | null>(null);
  #signaling: AudioSignaling;
  #env: AudioEnvironment;
  #options: Required<AudioOptions>;
  #plan: AudioPlan = { spaceId: null, publish: false, muted: true };
  /** The connection in service (up, or the only one being made). */
  #current: Leg | null = null;
  /** The connection being made while `#current` keeps playing (a tier switch). */
  #next: Leg | null = null;
  /** Bumped by every (re)connect and disconnect: work of an older attempt stops when it sees a newer one. */
  #generation = 0;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #graceTimer: ReturnType<typeof setTimeout> | null = null;
  #setupTimer: ReturnType<typeof setTimeout> | null = null;
  /** The space the server holds a connection of ours for. */
  #connectedSpace: string | null = null;
  /** The API has no audio mutations: stay 'unavailable' without retrying. */
  #unsupported = false;
  /** The API has no audience tier: listeners use connectAudio (receive-only). */
  #listenUnsupported = false;

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
    return (this.#current ?? this.#next)?.mic != null;
  }

  /** The tier of the connection that is up (null when none is). */
  get tier(): AudioTier | null {
    return this.#tier;
  }

  /** While `state` is 'switching': the tier being moved to. */
  get switchingTo(): AudioTier | null {
    return this.#switchingTo;
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
    // Off stage the microphone goes quiet at once, before any new connection is up.
    this.#applyMute();
    const needsConnection = before.spaceId !== plan.spaceId || this.state === 'idle';
    // Going on stage needs the mixer and the microphone; leaving it, the audience relay.
    const roleChanged = before.publish !== plan.publish;
    if (needsConnection || roleChanged) void this.#connect(needsConnection && this.state === 'idle' ? 'connecting' : 'reconnecting');
  }

  /** Whether the browser is online; offline, the audio is paused (`setOnline`). */
  get online(): boolean {
    return this.#online;
  }

  /** The microphone was refused: the mic cannot be on, whatever the room says. */
  get micBlocked(): boolean {
    return this.state === 'mic-blocked' || !!(this.#current ?? this.#next)?.micBlocked;
  }

  /**
   * Audio cannot be reached: unavailable, or a few attempts failed in a row (the person gets a
   * Retry button rather than an endless "reconnecting").
   */
  get unreachable(): boolean {
    return this.#online && (this.state === 'unavailable' || (this.state === 'reconnecting' && this.#failures >= 2));
  }

  /** The browser went offline (audio paused) or came back (connect again at once). */
  setOnline(online: boolean): void {
    if (this.#online === online) return;
    this.#online = online;
    if (online) this.retry();
  }

  /** Tries again now (the person's Retry), resetting the back-off. */
  retry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#attempt = 0;
    this.reconnect();
  }

  /** Connects again on the tier the room says (the mixer or relay restarted, or the connection failed). */
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
    this.#failures = 0;
    if (spaceId) await this.#signaling.disconnect(spaceId).catch(() => undefined);
  }

  /** Plays the space after the browser blocked autoplay (call from a click). */
  resumePlayback(): void {
    for (const leg of [this.#current, this.#next]) {
      if (!leg?.remote) continue;
      leg.player?.stop();
      this.#startPlayer(leg, leg.remote);
    }
  }

  /** The tier a connection for `publish` goes to. */
  #tierFor(publish: boolean): AudioTier {
    return publish || this.#listenUnsupported ? 'STAGE' : 'AUDIENCE';
  }

  async #connect(kind: 'connecting' | 'reconnecting'): Promise<void> {
    const generation = ++this.#generation;
    const spaceId = this.#plan.spaceId;
    if (!spaceId) return;
    const publish = this.#plan.publish;
    let tier = this.#tierFor(publish);
    this.#clearTimers();
    // An unfinished connection of an older attempt is abandoned.
    this.#closeLeg(this.#next);
    this.#next = null;
    const current = this.#current;
    // Make before break: a connection that is up keeps playing while one on the other tier (or
    // with/without the microphone) is made. Also when a switch is called off half-way (promoted and
    // demoted again): the server may already have let go of the old one, so a new one is made, and
    // the old plays until then. Anything else (a failure, a reconnect) starts over.
    const switching =
      !!current?.up &&
      current.spaceId === spaceId &&
      (current.tier !== tier || current.publish !== publish || this.state === 'switching');
    if (switching) {
      this.#switchingTo = tier;
      this.state = 'switching';
    } else {
      this.#closeLeg(current);
      this.#current = null;
      this.#tier = null;
      this.#switchingTo = null;
      this.state = kind;
    }
    const stale = () => generation !== this.#generation;
    // Asked for alongside the microphone or the relay's offer; failing to get them is not fatal (direct connection).
    const iceServers = this.#signaling.iceServers().catch((): RTCIceServer[] => []);

    let followed = false;
    for (;;) {
      try {
        const leg = tier === 'STAGE' ? await this.#openStage(spaceId, publish, iceServers, stale) : await this.#openAudience(spaceId, iceServers, stale);
        if (!leg || stale()) return;
        if (!leg.micBlocked) this.problem = null;
        // Some environments report 'connected' before the answer is applied.
        if (leg.pc.connectionState === 'connected') this.#onLegState(leg, 'connected');
        else
          this.#setupTimer = setTimeout(() => {
            this.#setupTimer = null;
            if (stale() || leg.up || leg.closed) return;
            this.problem = "Couldn't reach the audio server from this network. Trying again…";
            this.#scheduleRetry();
          }, this.#options.connectTimeoutMs);
        return;
      } catch (error) {
        if (stale()) return;
        this.#closeLeg(this.#next);
        this.#next = null;
        if (error instanceof NoPeerConnection) {
          this.#teardown();
          this.state = 'unavailable';
          this.problem = "This browser can't play live audio.";
          return;
        }
        const appError = toAppError(error);
        // Once per attempt, go where the server says (or where the API can take us).
        if (!followed) {
          // A listen request that does not validate: an API from before the audience tier.
          const noAudienceTier = tier === 'AUDIENCE' && (isListenUnsupported(appError) || isAudioUnsupported(appError));
          const other: AudioTier | null = noAudienceTier
              ? 'STAGE'
              : appError.code === 'CONFLICT' && appError.useInstead === 'listenAudio' && tier === 'STAGE' && !this.#listenUnsupported
                ? 'AUDIENCE'
                : appError.code === 'CONFLICT' && appError.useInstead === 'connectAudio' && tier === 'AUDIENCE'
                  ? 'STAGE'
                  : null;
          if (other) {
            if (noAudienceTier) this.#listenUnsupported = true;
            followed = true;
            tier = other;
            if (this.#switchingTo) this.#switchingTo = tier;
            continue;
          }
        }
        this.#failed(appError);
        return;
      }
    }
  }

  /** Stage tier: our offer (with the microphone when publishing) to connectAudio, its answer applied. */
  async #openStage(spaceId: string, publish: boolean, iceServers: Promise<RTCIceServer[]>, stale: () => boolean): Promise<Leg | null> {
    let mic: MediaStream | null = null;
    let micBlocked = false;
    if (publish) {
      try {
        mic = await this.#env.getUserMedia(MIC_CONSTRAINTS);
      } catch (error) {
        if (stale()) return null;
        micBlocked = true;
        this.problem = micProblem(error);
      }
    }
    const servers = await iceServers;
    if (stale()) {
      stopStream(mic);
      return null;
    }
    const leg = this.#openLeg(spaceId, 'STAGE', publish, servers, () => stopStream(mic));
    leg.mic = mic;
    leg.micBlocked = micBlocked;
    const pc = leg.pc;
    const track = mic?.getAudioTracks()[0];
    if (track && mic) pc.addTransceiver(track, { direction: 'sendrecv', streams: [mic] });
    else pc.addTransceiver('audio', { direction: 'recvonly' });
    this.#applyMute();
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await waitForIceGathering(pc, this.#options.iceTimeoutMs);
    if (stale()) return null;
    const { answer, participantId } = await this.#signaling.connect(spaceId, pc.localDescription?.sdp ?? offer.sdp ?? '');
    if (stale()) return null;
    this.#connectedSpace = spaceId;
    this.participantId = participantId;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    return stale() ? null : leg;
  }

  /** Audience tier: the relay's offer from listenAudio applied, our complete answer to answerAudio. */
  async #openAudience(spaceId: string, iceServers: Promise<RTCIceServer[]>, stale: () => boolean): Promise<Leg | null> {
    // The offer is asked for at once; the peer connection is made while the server prepares it.
    const offering = this.#signaling.listen(spaceId);
    offering.catch(() => undefined); // awaited below; not unhandled meanwhile
    const servers = await iceServers;
    if (stale()) return null;
    const leg = this.#openLeg(spaceId, 'AUDIENCE', false, servers);
    const pc = leg.pc;
    const offered = await offering;
    if (stale()) return null;
    this.#connectedSpace = spaceId;
    this.participantId = offered.participantId;
    await pc.setRemoteDescription({ type: 'offer', sdp: offered.offer });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await waitForIceGathering(pc, this.#options.iceTimeoutMs);
    if (stale()) return null;
    const { participantId } = await this.#signaling.answer(spaceId, offered.offerId, pc.localDescription?.sdp ?? answer.sdp ?? '');
    if (stale()) return null;
    this.participantId = participantId;
    return leg;
  }

  /** A new peer connection as `#next`, its remote audio played and its state followed. */
  #openLeg(spaceId: string, tier: AudioTier, publish: boolean, servers: RTCIceServer[], onFail?: () => void): Leg {
    let pc: RTCPeerConnection;
    try {
      pc = this.#env.createPeerConnection(servers);
    } catch {
      onFail?.();
      throw new NoPeerConnection();
    }
    const leg: Leg = { spaceId, tier, publish, pc, mic: null, micBlocked: false, player: null, remote: null, up: false, closed: false };
    this.#next = leg;
    pc.addEventListener('track', (event) => {
      if (leg.closed) return;
      const { streams, track } = event as RTCTrackEvent;
      const stream = streams[0] ?? new MediaStream([track]);
      leg.remote = stream;
      leg.player?.stop();
      this.#startPlayer(leg, stream);
    });
    pc.addEventListener('connectionstatechange', () => this.#onLegState(leg, pc.connectionState));
    return leg;
  }

  #onLegState(leg: Leg, state: RTCPeerConnectionState): void {
    if (leg.closed) return;
    if (leg === this.#next) {
      if (state === 'connected') this.#adopt(leg);
      else if (state === 'failed') this.#scheduleRetry();
      return;
    }
    if (leg !== this.#current) return;
    switch (state) {
      case 'connected':
        if (this.#graceTimer) clearTimeout(this.#graceTimer);
        this.#graceTimer = null;
        this.#attempt = 0;
        if (this.state !== 'switching') this.state = leg.micBlocked ? 'mic-blocked' : 'live';
        break;
      case 'disconnected':
        // Often comes back by itself (a network blip); give it a moment before connecting again.
        // While a switch is under way the new connection replaces it anyway.
        if (!this.#graceTimer && !this.#next)
          this.#graceTimer = setTimeout(() => {
            this.#graceTimer = null;
            if (this.#current === leg && leg.pc.connectionState !== 'connected' && !this.#next) this.reconnect();
          }, this.#options.disconnectGraceMs);
        break;
      case 'failed':
        this.#failures++;
        if (!this.#next) this.#scheduleRetry();
        break;
      default:
        break;
    }
  }

  /** The new connection is up: it takes over, and the one it replaces is closed. */
  #adopt(leg: Leg): void {
    if (this.#setupTimer) clearTimeout(this.#setupTimer);
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#setupTimer = null;
    this.#graceTimer = null;
    this.#attempt = 0;
    this.#failures = 0;
    leg.up = true;
    const old = this.#current;
    this.#current = leg;
    this.#next = null;
    if (old && old !== leg) this.#closeLeg(old);
    this.playbackBlocked = false;
    this.#tier = leg.tier;
    this.#switchingTo = null;
    this.state = leg.micBlocked ? 'mic-blocked' : 'live';
  }

  /** Signaling failed for this attempt (nothing else to follow). */
  #failed(appError: AppError): void {
    this.#failures++;
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
      // Voice is down on the server (or we are not in the space yet): try again, slowly, or when
      // the server says (a relay being set up, a mixer reconnecting). A connection still up keeps
      // playing meanwhile (a switch that cannot happen yet).
      const keep = !!this.#current?.up && this.state === 'switching';
      if (!keep) {
        this.#teardown();
        this.state = 'unavailable';
      }
      const delayMs = appError.retryAfterMs
        ? Math.max(appError.retryAfterMs, 250)
        : Math.max(this.#options.retryDelayMs(this.#attempt + 1), 10_000);
      this.#scheduleRetry(delayMs, false);
      return;
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(delayMs?: number, showReconnecting = true): void {
    // While switching, the old connection still plays: say so rather than "reconnecting".
    if (showReconnecting && this.state !== 'switching') this.state = 'reconnecting';
    if (this.#retryTimer) return;
    this.#attempt++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.reconnect();
    }, delayMs ?? this.#options.retryDelayMs(this.#attempt));
  }

  #applyMute(): void {
    // The mixer mutes too; this keeps a muted (or no longer allowed) microphone from sending anything at all.
    const send = this.#plan.publish && !this.#plan.muted;
    for (const leg of [this.#current, this.#next]) for (const track of leg?.mic?.getAudioTracks() ?? []) track.enabled = send;
  }

  #startPlayer(leg: Leg, stream: MediaStream): void {
    const player = this.#env.play(stream);
    leg.player = player;
    this.playbackBlocked = false;
    player.started.catch(() => {
      if (leg.player === player && !leg.closed) this.playbackBlocked = true;
    });
  }

  #closeLeg(leg: Leg | null): void {
    if (!leg || leg.closed) return;
    leg.closed = true;
    leg.player?.stop();
    leg.player = null;
    leg.remote = null;
    leg.pc.close();
    stopStream(leg.mic);
    leg.mic = null;
  }

  #teardown(): void {
    this.#closeLeg(this.#next);
    this.#closeLeg(this.#current);
    this.#next = null;
    this.#current = null;
    this.#tier = null;
    this.#switchingTo = null;
    this.playbackBlocked = false;
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

function stopStream(stream: MediaStream | null): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
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
    async listen(spaceId) {
      const { listenAudio } = await api.mutate(ListenAudioMutation, { spaceId });
      return { offerId: listenAudio.id, offer: listenAudio.offer, participantId: listenAudio.participant.id };
    },
    async answer(spaceId, offerId, answer) {
      const { answerAudio } = await api.mutate(AnswerAudioMutation, { spaceId, offerId, answer });
      return { participantId: answerAudio.id };
    },
    async disconnect(spaceId) {
      await api.mutate(DisconnectAudioMutation, { spaceId });
    },
  };
}
