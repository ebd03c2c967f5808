import { randomBytes } from 'node:crypto';
import { TypedEmitter, type EventMap } from './emitter.ts';
import { JanusConnectionError, JanusError } from './errors.ts';

/** An SDP offer or answer, as Janus carries it. */
export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
  trickle?: boolean;
}

/** Any message Janus sends: responses, and events from the long poll. */
export interface JanusMessage {
  janus: string;
  transaction?: string;
  session_id?: number;
  sender?: number;
  data?: { id?: number; [key: string]: unknown };
  plugindata?: { plugin: string; data: PluginData };
  jsep?: Jsep;
  error?: { code: number; reason: string };
  [key: string]: unknown;
}

/** A plugin's reply or event payload. */
export type PluginData = Record<string, unknown> & { error_code?: number; error?: string };

export interface JanusSessionOptions {
  /** Janus API base URL, e.g. http://127.0.0.1:8088/janus (RunningJanus.httpUrl). */
  url: string;
  apiSecret?: string;
  /** Keepalive period; must be well below Janus's session_timeout (60 s). Default 25000 ms. */
  keepaliveIntervalMs?: number;
  /** Timeout of each HTTP request. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** How long to wait for the event answering an asynchronous request (join, configure). Default 10000 ms. */
  asyncTimeoutMs?: number;
  /** Events Janus may return per long poll. Default 10. */
  maxEventsPerPoll?: number;
}

export type JanusSessionEvents = {
  /** Janus went away (stopped, crashed, restarted) or dropped this session. Emitted once. */
  disconnected: [error: JanusConnectionError];
};

interface PendingTransaction {
  request: string;
  resolve: (message: JanusMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One Janus session over the HTTP API: keepalives, a long-poll loop that routes events to handles,
 * and detection of Janus going away.
 */
export class JanusSession extends TypedEmitter<JanusSessionEvents> {
  readonly #options: Required<Omit<JanusSessionOptions, 'apiSecret'>> & { apiSecret?: string };
  readonly #handles = new Map<number, PluginHandle<EventMap>>();
  readonly #pending = new Map<string, PendingTransaction>();
  readonly #pollAbort = new AbortController();
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #state: 'open' | 'disconnected' | 'destroyed' = 'open';

  private constructor(
    readonly id: number,
    options: JanusSessionOptions,
  ) {
    super();
    this.#options = {
      keepaliveIntervalMs: 25_000,
      requestTimeoutMs: 10_000,
      asyncTimeoutMs: 10_000,
      maxEventsPerPoll: 10,
      ...options,
      url: options.url.replace(/\/+$/, ''),
    };
  }

  /** Creates a session on Janus and starts its keepalive and event loop. */
  static async create(options: JanusSessionOptions): Promise<JanusSession> {
    const url = options.url.replace(/\/+$/, '');
    const response = await postJson(url, { janus: 'create' }, options.apiSecret, options.requestTimeoutMs ?? 10_000);
    if (response.janus !== 'success' || typeof response.data?.id !== 'number') {
      throw toJanusError(response, 'create session');
    }
    const session = new JanusSession(response.data.id, options);
    session.#startKeepalive();
    void session.#pollLoop();
    return session;
  }

  /** Whether the session is usable: not destroyed, and Janus has not gone away. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get url(): string {
    return this.#options.url;
  }

  /** Attaches a handle to the AudioBridge plugin. `adminKey` is used for create and rtp_forward. */
  async attachAudioBridge(options: { adminKey?: string; opaqueId?: string } = {}): Promise<AudioBridgeHandle> {
    const handleId = await this.attach('janus.plugin.audiobridge', options.opaqueId);
    return new AudioBridgeHandle(this, handleId, options.adminKey);
  }

  /** Attaches to any plugin; returns the handle ID. Used by the typed attach methods. */
  async attach(plugin: string, opaqueId?: string): Promise<number> {
    const response = await this.request({ janus: 'attach', plugin, opaque_id: opaqueId });
    if (typeof response.data?.id !== 'number') throw toJanusError(response, 'attach');
    return response.data.id;
  }

  /** Detaches every handle and destroys the session on Janus. Safe to call more than once. */
  async destroy(): Promise<void> {
    if (this.#state === 'destroyed') return;
    const wasOpen = this.#state === 'open';
    this.#close('destroyed', new JanusConnectionError('Janus session destroyed'));
    if (wasOpen) {
      try {
        await postJson(`${this.#options.url}/${this.id}`, { janus: 'destroy' }, this.#options.apiSecret, 2000);
      } catch {
        // Janus is gone already; the session went with it.
      }
    }
  }

  /**
   * Sends a session-level (or, with `handleId`, handle-level) request and returns Janus's reply.
   * Core errors become JanusError; network failures become JanusConnectionError.
   */
  async request(body: Record<string, unknown>, handleId?: number): Promise<JanusMessage> {
    this.#assertOpen();
    const path = handleId === undefined ? `/${this.id}` : `/${this.id}/${handleId}`;
    const response = await this.#post(path, body);
    if (response.janus === 'error') throw toJanusError(response, String(body.janus));
    return response;
  }

  /**
   * Sends a plugin message. Synchronous plugin requests return their data at once; asynchronous
   * ones (join, configure, leave) are acked, and the answer arrives later as an event with the
   * same transaction.
   */
  async sendMessage(
    handleId: number,
    body: Record<string, unknown>,
    jsep?: Jsep,
  ): Promise<{ data: PluginData; jsep?: Jsep }> {
    this.#assertOpen();
    const transaction = newTransactionId();
    const request = String(body.request ?? 'message');
    // Registered before the POST: the event can reach the poller before the ack reaches us.
    const answer = new Promise<JanusMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(transaction);
        reject(new JanusError(0, `no answer within ${this.#options.asyncTimeoutMs} ms`, request));
      }, this.#options.asyncTimeoutMs);
      this.#pending.set(transaction, { request, resolve, reject, timer });
    });
    answer.catch(() => {}); // observed below, or deliberately dropped for synchronous replies

    let response: JanusMessage;
    try {
      response = await this.#post(`/${this.id}/${handleId}`, { janus: 'message', body, jsep }, transaction);
    } catch (error) {
      this.#settle(transaction);
      throw error;
    }
    let reply: JanusMessage;
    if (response.janus === 'ack') {
      reply = await answer;
    } else {
      this.#settle(transaction);
      reply = response;
    }
    if (reply.janus === 'error') throw toJanusError(reply, request);
    const data = reply.plugindata?.data;
    if (!data) throw new JanusError(0, `unexpected reply "${reply.janus}"`, request);
    if (typeof data.error_code === 'number') {
      throw new JanusError(data.error_code, String(data.error ?? 'plugin error'), request);
    }
    return reply.jsep ? { data, jsep: reply.jsep } : { data };
  }

  /** @internal Handles register themselves to receive their events. */
  registerHandle(handle: PluginHandle<EventMap>): void {
    this.#handles.set(handle.id, handle);
  }

  /** @internal */
  unregisterHandle(handleId: number): void {
    this.#handles.delete(handleId);
  }

  #assertOpen() {
    if (this.#state !== 'open') {
      throw new JanusConnectionError(`Janus session ${this.id} is ${this.#state}`);
    }
  }

  /** Removes a pending transaction without resolving it. */
  #settle(transaction: string) {
    const pending = this.#pending.get(transaction);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pending.delete(transaction);
  }

  async #post(path: string, body: Record<string, unknown>, transaction = newTransactionId()): Promise<JanusMessage> {
    let response: JanusMessage;
    try {
      response = await postJson(
        this.#options.url + path,
        { ...body, transaction },
        this.#options.apiSecret,
        this.#options.requestTimeoutMs,
      );
    } catch (error) {
      const connectionError = new JanusConnectionError(`Janus request ${String(body.janus)} failed: ${describe(error)}`, {
        cause: error,
      });
      // A failed request to a local Janus almost always means it is gone; confirm before telling.
      void this.#confirmAlive(connectionError);
      throw connectionError;
    }
    if (response.janus === 'error' && response.error?.code === 458) {
      this.#close('disconnected', new JanusConnectionError(`Janus no longer knows session ${this.id}`));
    }
    return response;
  }

  async #confirmAlive(cause: JanusConnectionError) {
    if (this.#state !== 'open') return;
    try {
      const response = await fetch(`${this.#options.url}/info`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // unreachable
    }
    this.#close('disconnected', cause);
  }

  #startKeepalive() {
    this.#keepaliveTimer = setInterval(() => {
      this.request({ janus: 'keepalive' }).catch(() => {
        // #post already handles disconnection; a lone timeout is retried next period
      });
    }, this.#options.keepaliveIntervalMs);
    // The keepalive alone must not keep a process alive.
    this.#keepaliveTimer.unref();
  }

  async #pollLoop() {
    const secret = this.#options.apiSecret ? `&apisecret=${encodeURIComponent(this.#options.apiSecret)}` : '';
    let failures = 0;
    while (this.#state === 'open') {
      let body: unknown;
      try {
        const response = await fetch(
          `${this.#options.url}/${this.id}?maxev=${this.#options.maxEventsPerPoll}&rid=${Date.now()}${secret}`,
          { signal: this.#pollAbort.signal },
        );
        body = await response.json();
        failures = 0;
      } catch (error) {
        if (this.#state !== 'open') return;
        // One retry covers a dropped keep-alive connection; twice in a row means Janus is gone.
        if (++failures >= 2) {
          this.#close('disconnected', new JanusConnectionError(`Janus event poll failed: ${describe(error)}`, { cause: error }));
          return;
        }
        await delay(200);
        continue;
      }
      for (const message of Array.isArray(body) ? body : [body]) this.#dispatch(message as JanusMessage);
    }
  }

  #dispatch(message: JanusMessage) {
    switch (message.janus) {
      case 'keepalive':
        return;
      case 'timeout':
        this.#close('disconnected', new JanusConnectionError(`Janus timed out session ${this.id}`));
        return;
      case 'error':
        if (message.error?.code === 458) {
          this.#close('disconnected', new JanusConnectionError(`Janus no longer knows session ${this.id}`));
          return;
        }
    }
    const pending = message.transaction ? this.#pending.get(message.transaction) : undefined;
    if (pending && (message.janus === 'event' || message.janus === 'error')) {
      this.#settle(message.transaction!);
      pending.resolve(message);
      return;
    }
    if (message.sender !== undefined) this.#handles.get(message.sender)?.receive(message);
  }

  #close(state: 'disconnected' | 'destroyed', error: JanusConnectionError) {
    if (this.#state !== 'open') {
      if (state === 'destroyed') this.#state = 'destroyed';
      return;
    }
    this.#state = state;
    clearInterval(this.#keepaliveTimer);
    this.#pollAbort.abort();
    for (const [transaction, pending] of this.#pending) {
      this.#settle(transaction);
      pending.reject(error);
    }
    for (const handle of this.#handles.values()) handle.sessionClosed();
    this.#handles.clear();
    if (state === 'disconnected') this.emit('disconnected', error);
  }
}

/** Events the Janus core sends about any handle's PeerConnection. */
export type CoreHandleEvents = {
  /** ICE and DTLS are up: media can flow. */
  webrtcup: [];
  /** Janus started or stopped receiving a kind of media. */
  media: [info: { type: 'audio' | 'video'; receiving: boolean; mid?: string }];
  /** The PeerConnection closed. */
  hangup: [reason: string];
  slowlink: [info: { uplink: boolean; media?: string; lost?: number; nacks?: number }];
  /** A trickled candidate from Janus (full trickle only); null when gathering completed. */
  trickle: [candidate: { sdpMid?: string; sdpMLineIndex?: number; candidate: string } | null];
  /** The handle is gone: detached, or its session ended. */
  detached: [];
};

/** Base of typed plugin handles: core requests and core events. */
export abstract class PluginHandle<Events extends EventMap> extends TypedEmitter<Events & CoreHandleEvents> {
  #attached = true;

  constructor(
    readonly session: JanusSession,
    readonly id: number,
  ) {
    super();
    session.registerHandle(this as unknown as PluginHandle<EventMap>);
  }

  get isAttached(): boolean {
    return this.#attached && this.session.isOpen;
  }

  /** Sends a plugin request (see JanusSession.sendMessage). */
  message(body: Record<string, unknown>, jsep?: Jsep): Promise<{ data: PluginData; jsep?: Jsep }> {
    return this.session.sendMessage(this.id, body, jsep);
  }

  /** Sends ICE candidates of the client's PeerConnection; `null` says gathering completed. */
  async trickle(candidate: { sdpMid?: string | null; sdpMLineIndex?: number | null; candidate: string } | null): Promise<void> {
    await this.session.request({ janus: 'trickle', candidate: candidate ?? { completed: true } }, this.id);
  }

  /** Closes the PeerConnection (the plugin handle stays). */
  async hangup(): Promise<void> {
    await this.session.request({ janus: 'hangup' }, this.id);
  }

  /** Detaches from the plugin; the handle cannot be used afterwards. */
  async detach(): Promise<void> {
    if (!this.#attached) return;
    try {
      await this.session.request({ janus: 'detach' }, this.id);
    } finally {
      this.#markDetached();
    }
  }

  /** @internal Called by the session for each event whose sender is this handle. */
  receive(message: JanusMessage): void {
    const emit = this.emit.bind(this) as (event: string, ...args: unknown[]) => void;
    switch (message.janus) {
      case 'webrtcup':
        emit('webrtcup');
        return;
      case 'media':
        emit('media', { type: message.type, receiving: message.receiving, mid: message.mid });
        return;
      case 'hangup':
        emit('hangup', String(message.reason ?? ''));
        return;
      case 'slowlink':
        emit('slowlink', { uplink: message.uplink, media: message.media, lost: message.lost, nacks: message.nacks });
        return;
      case 'trickle': {
        const candidate = message.candidate as { completed?: boolean; candidate: string } | undefined;
        emit('trickle', !candidate || candidate.completed ? null : candidate);
        return;
      }
      case 'detached':
        this.#markDetached();
        return;
      case 'event':
        if (message.plugindata) this.pluginEvent(message.plugindata.data, message.jsep);
    }
  }

  /** @internal The session ended: this handle is gone too. */
  sessionClosed(): void {
    if (!this.#attached) return;
    this.#attached = false;
    (this.emit.bind(this) as (event: string) => void)('detached');
  }

  /** Plugin events that answer no request of ours (other participants, talking, kicks). */
  protected abstract pluginEvent(data: PluginData, jsep?: Jsep): void;

  #markDetached() {
    if (!this.#attached) return;
    this.#attached = false;
    this.session.unregisterHandle(this.id);
    (this.emit.bind(this) as (event: string) => void)('detached');
  }
}

// ---------------------------------------------------------------------------------------------
// AudioBridge

export type SamplingRate = 8000 | 12000 | 16000 | 24000 | 48000;

/** Room settings, named as Janus names them. */
export interface AudioBridgeRoomOptions {
  /** Room number; Janus picks one when missing. */
  room?: number;
  description?: string;
  /** Guards mute/unmute/kick/destroy/edit. */
  secret?: string;
  /** Needed to join. */
  pin?: string;
  is_private?: boolean;
  /** Default 48000: Opus's native rate, no resampling. */
  sampling_rate?: SamplingRate;
  spatial_audio?: boolean;
  audiolevel_ext?: boolean;
  /** Emit talking/stopped-talking from clients' audio-level extension. Default true. */
  audiolevel_event?: boolean;
  /** Packets (20 ms each) averaged for talking detection. Default 50 (1 s): a lively indicator. */
  audio_active_packets?: number;
  /** Average level (0 loud .. 127 silent, -dBov) under which one is talking. Default 40. */
  audio_level_average?: number;
  /** Packets buffered per participant before mixing; each adds ~20 ms of delay. Default 3. */
  default_prebuffering?: number;
  default_expectedloss?: number;
  default_bitrate?: number;
  record?: boolean;
  record_file?: string;
  record_dir?: string;
  /** Lets participants join over plain RTP (SIP gateways, tests). Default false. */
  allow_rtp_participants?: boolean;
  groups?: string[];
}

export interface AudioBridgeParticipant {
  id: number;
  display?: string;
  /** Whether its media (PeerConnection or plain RTP) is set up. */
  setup: boolean;
  muted: boolean;
  talking?: boolean;
  spatial_position?: number;
}

/** Where the plain-RTP participant wants the mix sent. */
export interface PlainRtpOffer {
  ip: string;
  port: number;
  /** Opus payload type. */
  payload_type?: number;
  /** ID of the ssrc-audio-level header extension, if the sender adds it. */
  audiolevel_ext?: number;
  fec?: boolean;
}

/** Where Janus expects the plain-RTP participant's packets. */
export interface PlainRtpAnswer {
  ip: string;
  port: number;
  payload_type?: number;
}

export interface AudioBridgeJoinOptions {
  room: number;
  /** Participant ID; Janus picks one when missing. */
  id?: number;
  display?: string;
  pin?: string;
  token?: string;
  muted?: boolean;
  codec?: 'opus' | 'pcma' | 'pcmu';
  bitrate?: number;
  quality?: number;
  expected_loss?: number;
  volume?: number;
  /** The room secret: makes the participant an admin, exempt from mute_room. */
  secret?: string;
  audio_level_average?: number;
  audio_active_packets?: number;
  group?: string;
}

export interface AudioBridgeJoined {
  room: number;
  /** This participant's ID. */
  id: number;
  display?: string;
  /** Who else was in the room. */
  participants: AudioBridgeParticipant[];
  /** The SDP answer, when the join carried an offer. */
  jsep?: Jsep;
  /** Janus's side of a plain-RTP join. */
  rtp?: PlainRtpAnswer;
}

export interface AudioBridgeConfigureOptions {
  muted?: boolean;
  display?: string;
  bitrate?: number;
  quality?: number;
  expected_loss?: number;
  volume?: number;
  record?: boolean;
  filename?: string;
  group?: string;
  rtp?: PlainRtpOffer;
}

export interface RtpForwardOptions {
  room: number;
  host: string;
  port: number;
  /** Forward only this group's mix. */
  group?: string;
  ssrc?: number;
  codec?: 'opus' | 'pcma' | 'pcmu';
  /** Default 100. */
  ptype?: number;
  host_family?: 'ipv4' | 'ipv6';
  srtp_suite?: 32 | 80;
  srtp_crypto?: string;
  /** Forward silence while the room is empty. */
  always_on?: boolean;
  /** The room secret, if the room has one. */
  secret?: string;
}

export interface RtpForwarder {
  stream_id: number;
  ip?: string;
  host?: string;
  port: number;
  group?: string;
  ssrc?: number;
  codec?: string;
  ptype?: number;
  srtp?: boolean;
  always_on?: boolean;
}

export type AudioBridgeEvents = {
  /** Someone in the room started talking (from their audio-level header extension). */
  talking: [event: { room: number; id: number }];
  'stopped-talking': [event: { room: number; id: number }];
  /** Someone else joined the room. */
  'participant-joined': [participant: AudioBridgeParticipant, room: number];
  /** Someone's state changed (e.g. muted by a moderator or by themselves). */
  'participant-updated': [participant: AudioBridgeParticipant, room: number];
  'participant-left': [id: number, room: number];
  'participant-kicked': [id: number, room: number];
  /** This participant was kicked out of the room. */
  kicked: [room: number];
  /** The room was destroyed while we were in it. */
  'room-destroyed': [room: number];
  /** Every plugin event that answers no request of ours, typed or not. */
  'plugin-event': [data: PluginData, jsep: Jsep | undefined];
};

/** A handle on the AudioBridge plugin: room management, and one participant once joined. */
export class AudioBridgeHandle extends PluginHandle<AudioBridgeEvents> {
  /** Room and participant ID after a successful join. */
  joined: { room: number; id: number } | undefined;

  constructor(
    session: JanusSession,
    id: number,
    /** Sent with create (and rtp_forward, as lock_rtp_forward is set). */
    readonly adminKey?: string,
  ) {
    super(session, id);
  }

  /** Creates a room (needs the admin key). Returns its number. */
  async create(options: AudioBridgeRoomOptions = {}): Promise<{ room: number }> {
    const { data } = await this.message({
      request: 'create',
      admin_key: this.adminKey,
      permanent: false,
      sampling_rate: 48000,
      default_prebuffering: 3,
      audiolevel_event: true,
      audio_active_packets: 50,
      audio_level_average: 40,
      ...options,
    });
    return { room: data.room as number };
  }

  async destroy(room: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'destroy', room, secret: options.secret, permanent: false });
  }

  async exists(room: number): Promise<boolean> {
    const { data } = await this.message({ request: 'exists', room });
    return data.exists === true;
  }

  async listParticipants(room: number): Promise<AudioBridgeParticipant[]> {
    const { data } = await this.message({ request: 'listparticipants', room });
    return (data.participants as AudioBridgeParticipant[] | undefined) ?? [];
  }

  /**
   * Joins a room as this handle's participant: with a WebRTC offer (`jsep`, answered in the
   * result), over plain RTP (`rtp`, Janus's side in the result), or without media.
   */
  join(options: AudioBridgeJoinOptions & { jsep: Jsep }): Promise<AudioBridgeJoined & { jsep: Jsep }>;
  join(options: AudioBridgeJoinOptions & { rtp: PlainRtpOffer }): Promise<AudioBridgeJoined & { rtp: PlainRtpAnswer }>;
  join(options: AudioBridgeJoinOptions): Promise<AudioBridgeJoined>;
  async join(options: AudioBridgeJoinOptions & { jsep?: Jsep; rtp?: PlainRtpOffer }): Promise<AudioBridgeJoined> {
    const { jsep, ...body } = options;
    const reply = await this.message({ request: 'join', ...body }, jsep);
    const joined: AudioBridgeJoined = {
      room: reply.data.room as number,
      id: reply.data.id as number,
      display: reply.data.display as string | undefined,
      participants: (reply.data.participants as AudioBridgeParticipant[] | undefined) ?? [],
    };
    if (reply.jsep) joined.jsep = reply.jsep;
    if (reply.data.rtp) joined.rtp = reply.data.rtp as PlainRtpAnswer;
    this.joined = { room: joined.room, id: joined.id };
    return joined;
  }

  /** Changes this participant's settings; with `jsep`, (re)negotiates and returns the answer. */
  async configure(options: AudioBridgeConfigureOptions & { jsep?: Jsep }): Promise<{ jsep?: Jsep }> {
    const { jsep, ...body } = options;
    const reply = await this.message({ request: 'configure', ...body }, jsep);
    return reply.jsep ? { jsep: reply.jsep } : {};
  }

  /** Moderator mute of any participant (needs the room secret, if set). */
  async mute(room: number, id: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'mute', room, id, secret: options.secret });
  }

  async unmute(room: number, id: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'unmute', room, id, secret: options.secret });
  }

  /** Removes a participant from the room (needs the room secret, if set). */
  async kick(room: number, id: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'kick', room, id, secret: options.secret });
  }

  /** Sends the room's mix (or a group's) as plain RTP to host:port; needs the admin key. */
  async rtpForward(options: RtpForwardOptions): Promise<RtpForwarder> {
    const { data } = await this.message({ request: 'rtp_forward', admin_key: this.adminKey, ...options });
    return {
      stream_id: data.stream_id as number,
      host: data.host as string,
      port: data.port as number,
      group: data.group as string | undefined,
    };
  }

  async stopRtpForward(room: number, streamId: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({
      request: 'stop_rtp_forward',
      room,
      stream_id: streamId,
      secret: options.secret,
      admin_key: this.adminKey,
    });
  }

  async listForwarders(room: number, options: { secret?: string } = {}): Promise<RtpForwarder[]> {
    const { data } = await this.message({ request: 'listforwarders', room, secret: options.secret, admin_key: this.adminKey });
    return (data.rtp_forwarders as RtpForwarder[] | undefined) ?? [];
  }

  /** Leaves the room (the handle stays attached and can join again). */
  async leave(): Promise<void> {
    await this.message({ request: 'leave' });
    this.joined = undefined;
  }

  protected pluginEvent(data: PluginData, jsep?: Jsep): void {
    const room = data.room as number;
    switch (data.audiobridge) {
      case 'talking':
      case 'stopped-talking':
        this.emit(data.audiobridge, { room, id: data.id as number });
        break;
      case 'joined':
        // Unsolicited "joined" announces others; ours answers our join request instead.
        for (const participant of (data.participants as AudioBridgeParticipant[] | undefined) ?? []) {
          this.emit('participant-joined', participant, room);
        }
        break;
      case 'destroyed':
        this.joined = undefined;
        this.emit('room-destroyed', room);
        break;
      case 'event':
        for (const participant of (data.participants as AudioBridgeParticipant[] | undefined) ?? []) {
          this.emit('participant-updated', participant, room);
        }
        if (typeof data.leaving === 'number') this.emit('participant-left', data.leaving, room);
        if (typeof data.kicked === 'number') {
          if (this.joined && data.kicked === this.joined.id) {
            this.joined = undefined;
            this.emit('kicked', room);
          } else {
            this.emit('participant-kicked', data.kicked, room);
          }
        }
        break;
    }
    this.emit('plugin-event', data, jsep);
  }
}

// ---------------------------------------------------------------------------------------------

async function postJson(url: string, body: Record<string, unknown>, apiSecret: string | undefined, timeoutMs: number) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ transaction: newTransactionId(), ...body, ...(apiSecret ? { apisecret: apiSecret } : {}) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return (await response.json()) as JanusMessage;
}

function toJanusError(response: JanusMessage, request: string): JanusError {
  if (response.error) return new JanusError(response.error.code, response.error.reason, request);
  return new JanusError(0, `unexpected reply "${response.janus}"`, request);
}

function newTransactionId() {
  return randomBytes(9).toString('base64url');
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return error.message + cause;
  }
  return String(error);
}

function delay(ms: number) {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}
