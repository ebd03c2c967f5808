import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fault-injecting HTTP proxy for the Janus HTTP API, for tests: it sits between one API
 * instance and a real Janus on loopback. Everything is forwarded (session long-polls, core
 * requests, plugin messages) except that plugin `message`s whose `body.request` is one of the
 * configured kinds may be
 * - dropped: not forwarded at all, and answered with what a synchronous AudioBridge success
 *   looks like, so the caller believes it worked (a lost request whose reply got "through"); or
 * - delayed by a random time within `delayMs`, which reorders concurrent requests.
 * Decisions come from a seeded PRNG, so a run's fault pattern depends only on its seed and the
 * order requests arrive in.
 */

export interface JanusFaults {
  /** Share of matching requests dropped, 0..1. */
  dropRate: number;
  /** Random delay [min, max] in ms for matching requests that are not dropped. */
  delayMs: [number, number];
  /** AudioBridge `body.request` values the faults apply to. */
  kinds: string[];
}

export interface JanusFaultStats {
  /** Requests passed on to Janus (delayed ones included). */
  forwarded: number;
  /** Matching requests answered by the proxy and never seen by Janus. */
  dropped: number;
  /** Matching requests forwarded after a delay > 0. */
  delayed: number;
  /** Requests refused because the proxy was at its bound. */
  rejected: number;
  /** Per AudioBridge request kind (matching kinds only). */
  byKind: Record<string, { forwarded: number; dropped: number; delayed: number }>;
}

/** One decision on a matching request, for failure reports. */
export interface JanusFaultEvent {
  /** performance.now() when the request arrived. */
  at: number;
  kind: string;
  room?: number;
  /** The participant the request is about (mute/unmute/kick). */
  id?: number;
  action: 'dropped' | 'delayed' | 'forwarded';
  delayMs?: number;
}

export interface JanusFaultProxyOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** Largest request body accepted (default 1 MB). */
  maxBodyBytes?: number;
  /** Requests handled at once, long-polls included, before answering 503 (default 256). */
  maxInFlight?: number;
  /** How many fault events are kept for `events` (default 2000, oldest dropped). */
  maxEvents?: number;
}

export const DEFAULT_FAULT_KINDS = ['mute', 'unmute', 'kick', 'configure'];
/** No delay is ever longer than this, whatever setFaults is given. */
const MAX_DELAY_MS = 10_000;
/** Upstream requests (Janus long-polls return within 30 s) are abandoned after this. */
const UPSTREAM_TIMEOUT_MS = 65_000;

/** mulberry32: a small, fast, seedable PRNG giving floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export class JanusFaultProxy {
  readonly stats: JanusFaultStats = { forwarded: 0, dropped: 0, delayed: 0, rejected: 0, byKind: {} };
  /** The last decisions on matching requests (bounded). */
  readonly events: JanusFaultEvent[] = [];
  #faults: JanusFaults = { dropRate: 0, delayMs: [0, 0], kinds: [...DEFAULT_FAULT_KINDS] };
  #inFlight = 0;
  #closed = false;
  /** Delays in progress, each with its wake-up (called early on close). */
  readonly #timers = new Map<NodeJS.Timeout, () => void>();

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
    /** The proxy's base URL, with the target's path: use it as the mixer's Janus URL. */
    readonly url: string,
    private readonly random: () => number,
    private readonly options: Required<JanusFaultProxyOptions>,
  ) {}

  /** Starts a proxy on 127.0.0.1 (any free port) for a Janus HTTP API on loopback. */
  static async start(targetUrl: string, options: JanusFaultProxyOptions = {}): Promise<JanusFaultProxy> {
    const target = new URL(targetUrl);
    if (target.protocol !== 'http:' || !LOOPBACK.has(target.hostname))
      throw new Error(`JanusFaultProxy: target must be http:// on loopback, got ${targetUrl}`);
    const resolved: Required<JanusFaultProxyOptions> = {
      seed: options.seed ?? 1,
      maxBodyBytes: options.maxBodyBytes ?? 1_000_000,
      maxInFlight: options.maxInFlight ?? 256,
      maxEvents: options.maxEvents ?? 2000,
    };
    const holder: { proxy?: JanusFaultProxy } = {};
    const server = createServer((req, res) => void holder.proxy!.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const base = target.pathname.replace(/\/$/, '');
    holder.proxy = new JanusFaultProxy(server, target, `http://127.0.0.1:${port}${base}`, seededRandom(resolved.seed), resolved);
    return holder.proxy;
  }

  /** Changes the faults from now on (unset fields keep their value). */
  setFaults(faults: Partial<JanusFaults>): void {
    const next = { ...this.#faults, ...faults };
    const rate = Math.min(1, Math.max(0, next.dropRate));
    const lo = Math.min(MAX_DELAY_MS, Math.max(0, next.delayMs[0]));
    const hi = Math.min(MAX_DELAY_MS, Math.max(lo, next.delayMs[1]));
    this.#faults = { dropRate: rate, delayMs: [lo, hi], kinds: [...next.kinds] };
  }

  get faults(): Readonly<JanusFaults> {
    return this.#faults;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [timer, wake] of this.#timers) {
      clearTimeout(timer);
      wake();
    }
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    if (this.#closed || this.#inFlight >= this.options.maxInFlight) {
      this.stats.rejected++;
      res.writeHead(503, { 'content-type': 'text/plain' }).end('proxy busy');
      req.resume();
      return;
    }
    this.#inFlight++;
    res.once('close', () => this.#inFlight--);
    try {
      let body: Buffer | undefined;
      if (req.method === 'POST') {
        body = await this.readBody(req);
        if (!body) {
          res.writeHead(413, { 'content-type': 'text/plain' }).end('body too large');
          return;
        }
        const decision = this.decide(req.url ?? '/', body);
        if (decision?.action === 'dropped') {
          this.stats.dropped++;
          this.kindStats(decision.kind).dropped++;
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(decision.reply));
          return;
        }
        if (decision?.action === 'delayed') {
          this.stats.delayed++;
          this.kindStats(decision.kind).delayed++;
          await this.sleep(decision.delayMs);
          if (this.#closed) {
            res.destroy();
            return;
          }
        }
        if (decision) this.kindStats(decision.kind).forwarded++;
      }
      this.stats.forwarded++;
      this.forward(req, res, body);
    } catch {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('proxy error');
    }
  }

  /** The whole body, or undefined past the size bound. */
  private readBody(req: IncomingMessage): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.options.maxBodyBytes) over = true;
        else chunks.push(chunk);
      });
      req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  /**
   * What to do with a POST: undefined when the faults do not apply (not a plugin message of a
   * configured kind); otherwise drop (with the reply to give), delay, or pass.
   */
  private decide(
    path: string,
    raw: Buffer,
  ):
    | { action: 'dropped'; kind: string; reply: Record<string, unknown> }
    | { action: 'delayed'; kind: string; delayMs: number }
    | { action: 'forwarded'; kind: string }
    | undefined {
    let message: { janus?: unknown; transaction?: unknown; body?: { request?: unknown; room?: unknown; id?: unknown } };
    try {
      message = JSON.parse(raw.toString('utf8'));
    } catch {
      return undefined;
    }
    if (message?.janus !== 'message' || typeof message.body?.request !== 'string') return undefined;
    const kind = message.body.request;
    if (!this.#faults.kinds.includes(kind)) return undefined;
    // <base>/<session>/<handle>
    const rest = new URL(path, 'http://proxy').pathname.slice(this.target.pathname.replace(/\/$/, '').length).split('/').filter(Boolean);
    const sessionId = Number(rest[0]);
    const handleId = Number(rest[1]);
    const event: JanusFaultEvent = {
      at: performance.now(),
      kind,
      room: typeof message.body.room === 'number' ? message.body.room : undefined,
      id: typeof message.body.id === 'number' ? message.body.id : undefined,
      action: 'forwarded',
    };
    const record = () => {
      this.events.push(event);
      if (this.events.length > this.options.maxEvents) this.events.shift();
    };
    // Draw both numbers every time, so one setting does not shift the other's sequence.
    const dropDraw = this.random();
    const delayDraw = this.random();
    if (dropDraw < this.#faults.dropRate) {
      event.action = 'dropped';
      record();
      return {
        action: 'dropped',
        kind,
        reply: {
          janus: 'success',
          session_id: sessionId,
          sender: handleId,
          transaction: message.transaction,
          plugindata: { plugin: 'janus.plugin.audiobridge', data: { audiobridge: 'success' } },
        },
      };
    }
    const [lo, hi] = this.#faults.delayMs;
    const delayMs = Math.round(lo + delayDraw * (hi - lo));
    if (delayMs > 0) {
      event.action = 'delayed';
      event.delayMs = delayMs;
      record();
      return { action: 'delayed', kind, delayMs };
    }
    record();
    return { action: 'forwarded', kind };
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) {
    const incoming = new URL(req.url ?? '/', 'http://proxy');
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !['host', 'connection', 'content-length', 'transfer-encoding'].includes(name)) headers[name] = value;
    if (body) headers['content-length'] = String(body.length);
    const upstream = httpRequest(
      {
        host: this.target.hostname.replace(/^\[|\]$/g, ''),
        port: this.target.port || 80,
        method: req.method,
        path: incoming.pathname + incoming.search,
        headers,
        timeout: UPSTREAM_TIMEOUT_MS,
      },
      (answer) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers))
          if (value !== undefined && !['connection', 'keep-alive', 'transfer-encoding'].includes(name)) out[name] = value;
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end();
    });
    // The client gave up (a session's long-poll aborted): stop waiting on Janus too.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (body) upstream.end(body);
    else req.pipe(upstream);
  }

  private kindStats(kind: string) {
    return (this.stats.byKind[kind] ??= { forwarded: 0, dropped: 0, delayed: 0 });
  }

  private sleep(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.set(timer, resolve);
    });
  }
}
