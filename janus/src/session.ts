/**
 * Session layer of the Janus client: one Janus session over the HTTP transport, with keepalives,
 * the long-poll loop that routes events to transactions and handles, and detection of Janus going
 * away. Handles (handle.ts) and plugins (audiobridge.ts) build on it.
 */
import { AudioBridgeHandle } from './audiobridge.ts';
import { StreamingHandle } from './streaming.ts';
import { TypedEmitter, type EventMap } from './emitter.ts';
import { JanusConnectionError, JanusError } from './errors.ts';
import type { PluginHandle } from './handle.ts';
import { HttpTransport, newTransactionId, type JanusMessage, type Jsep, type PluginData } from './transport.ts';

export interface JanusSessionOptions {
  /** Janus API base URL, e.g. http://127.0.0.1:8088/janus (RunningJanus.httpUrl). */
  url: string;
  /** Janus's `api_secret` (RunningJanus.apiSecret), sent with every request, keepalive and long poll. */
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
  readonly #transport: HttpTransport;
  readonly #keepaliveIntervalMs: number;
  readonly #asyncTimeoutMs: number;
  readonly #maxEventsPerPoll: number;
  readonly #handles = new Map<number, PluginHandle<EventMap>>();
  readonly #pending = new Map<string, PendingTransaction>();
  readonly #pollAbort = new AbortController();
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #state: 'open' | 'disconnected' | 'destroyed' = 'open';

  private constructor(
    readonly id: number,
    transport: HttpTransport,
    options: JanusSessionOptions,
  ) {
    super();
    this.#transport = transport;
    this.#keepaliveIntervalMs = options.keepaliveIntervalMs ?? 25_000;
    this.#asyncTimeoutMs = options.asyncTimeoutMs ?? 10_000;
    this.#maxEventsPerPoll = options.maxEventsPerPoll ?? 10;
  }

  /** Creates a session on Janus and starts its keepalive and event loop. */
  static async create(options: JanusSessionOptions): Promise<JanusSession> {
    const transport = new HttpTransport({
      url: options.url,
      apiSecret: options.apiSecret,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    });
    const response = await transport.post('', { janus: 'create' });
    if (response.janus !== 'success' || typeof response.data?.id !== 'number') {
      throw toJanusError(response, 'create session');
    }
    const session = new JanusSession(response.data.id, transport, options);
    session.#startKeepalive();
    void session.#pollLoop();
    return session;
  }

  /** Whether the session is usable: not destroyed, and Janus has not gone away. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get url(): string {
    return this.#transport.url;
  }

  /** Attaches a handle to the AudioBridge plugin. `adminKey` is used for create and rtp_forward. */
  async attachAudioBridge(options: { adminKey?: string; opaqueId?: string } = {}): Promise<AudioBridgeHandle> {
    const handleId = await this.attach('janus.plugin.audiobridge', options.opaqueId);
    return new AudioBridgeHandle(this, handleId, options.adminKey);
  }

  /** Attaches a handle to the Streaming plugin: mountpoints (with `adminKey`), or one viewer. */
  async attachStreaming(options: { adminKey?: string; opaqueId?: string } = {}): Promise<StreamingHandle> {
    const handleId = await this.attach('janus.plugin.streaming', options.opaqueId);
    return new StreamingHandle(this, handleId, options.adminKey);
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
        await this.#transport.post(`/${this.id}`, { janus: 'destroy' }, 2000);
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
        reject(new JanusError(0, `no answer within ${this.#asyncTimeoutMs} ms`, request));
      }, this.#asyncTimeoutMs);
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
      throw new JanusError(data.error_code, String(data.error ?? 'plugin error'), request, reply.plugindata?.plugin);
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
      response = await this.#transport.post(path, { ...body, transaction });
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
    if (await this.#transport.isAlive(2000)) return;
    this.#close('disconnected', cause);
  }

  #startKeepalive() {
    this.#keepaliveTimer = setInterval(() => {
      this.request({ janus: 'keepalive' }).catch(() => {
        // #post already handles disconnection; a lone timeout is retried next period
      });
    }, this.#keepaliveIntervalMs);
    // The keepalive alone must not keep a process alive.
    this.#keepaliveTimer.unref();
  }

  async #pollLoop() {
    let failures = 0;
    while (this.#state === 'open') {
      let body: unknown;
      try {
        body = await this.#transport.poll(this.id, this.#maxEventsPerPoll, this.#pollAbort.signal);
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

/**
 * Sends a plugin message to a handle of a session this process does not hold (another API
 * instance made it): Janus accepts it from anyone with the API secret. Asynchronous requests are
 * only acked here; their outcome goes to the session's owner.
 */
export async function messageForeignHandle(
  options: Pick<JanusSessionOptions, 'url' | 'apiSecret' | 'requestTimeoutMs'>,
  sessionId: number,
  handleId: number,
  body: Record<string, unknown>,
  jsep?: Jsep,
): Promise<void> {
  const transport = new HttpTransport({ url: options.url, apiSecret: options.apiSecret, requestTimeoutMs: options.requestTimeoutMs ?? 10_000 });
  const request = String(body.request ?? 'message');
  let reply: JanusMessage;
  try {
    reply = await transport.post(`/${sessionId}/${handleId}`, { janus: 'message', body, jsep });
  } catch (error) {
    throw new JanusConnectionError(`Janus request ${request} failed: ${describe(error)}`, { cause: error });
  }
  if (reply.janus === 'error') throw toJanusError(reply, request);
  const data = reply.plugindata?.data;
  if (data && typeof data.error_code === 'number') throw new JanusError(data.error_code, String(data.error ?? 'plugin error'), request, reply.plugindata?.plugin);
}

function toJanusError(response: JanusMessage, request: string): JanusError {
  if (response.error) return new JanusError(response.error.code, response.error.reason, request);
  return new JanusError(0, `unexpected reply "${response.janus}"`, request);
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
