/**
 * Helpers for the fault suites (src/faults/) and the soak benchmark (bench/soak.ts): GraphQL over
 * real HTTP, a graphql-ws client that reconnects like the PWA does, the API as a child process
 * (so it can be killed with SIGKILL and measured), a TCP proxy that puts several API instances
 * behind one port, /proc figures of a process, and a least-squares slope. All on 127.0.0.1.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HttpResult<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

/**
 * One GraphQL request over HTTP. A network error (the instance behind the port died mid-request,
 * or the proxy had nowhere to send it) is retried `retries` times, as a client would refetch;
 * only use retries for reads and idempotent mutations.
 */
export async function httpGql<T = Record<string, any>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  options: { token?: string; retries?: number; timeoutMs?: number } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(`${baseUrl}/graphql`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      const body = (await response.json()) as HttpResult<T>;
      return { ...body, status: response.status };
    } catch (error) {
      if (attempt >= (options.retries ?? 0)) throw error;
      await sleep(100);
    }
  }
}

/** Like httpGql, but throws on GraphQL errors: for arranging scenarios. */
export async function mustGql<T = Record<string, any>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<T> {
  const result = await httpGql<T>(baseUrl, query, variables, { token });
  if (result.errors || !result.data) throw new Error(`${query.slice(0, 70)}… failed: ${JSON.stringify(result.errors)}`);
  return result.data;
}

export async function signUpOver(baseUrl: string, handle: string): Promise<{ id: string; token: string; handle: string }> {
  const data = await mustGql<{ signUp: { token: string; user: { id: string } } }>(
    baseUrl,
    `mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }`,
    { input: { handle, displayName: handle, password: 'correct horse battery' } },
  );
  return { id: data.signUp.user.id, token: data.signUp.token, handle };
}

/** The database id inside a GraphQL global id (base64url "Type:uuid"). */
export const rawId = (globalId: string): string => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1]!;

let handleCounter = 0;
/** A unique valid handle (3–15 characters). */
export const faultHandle = (prefix: string) =>
  `${prefix}${(handleCounter++).toString(36)}${Math.random().toString(36).slice(2, 7)}`.slice(0, 15);

/**
 * A graphql-ws client that behaves like the PWA's (web/src/lib/graphql/client.ts): it retries
 * after any close, quickly here, and resubscribes its live subscriptions by itself. `reconnects`
 * records when each retry connected (performance.now()), the moment the PWA refetches.
 */
export interface ReconnectingClient {
  client: Client;
  reconnects: number[];
  closes: { at: number; code: number }[];
  dispose(): Promise<void>;
}

export function reconnectingClient(baseUrl: string, token?: string): ReconnectingClient {
  const reconnects: number[] = [];
  const closes: { at: number; code: number }[] = [];
  const client = createClient({
    url: baseUrl.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: WebSocket,
    connectionParams: token ? { authToken: token } : undefined,
    lazy: true,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    retryWait: async () => {
      await sleep(100 + Math.random() * 100);
    },
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) reconnects.push(performance.now());
      },
      closed: (event) => closes.push({ at: performance.now(), code: (event as { code?: number }).code ?? 0 }),
    },
  });
  return { client, reconnects, closes, dispose: () => client.dispose() as Promise<void> };
}

/** What one subscription delivered, with the time of each event. */
export interface Watch<T> {
  events: { at: number; value: T }[];
  errors: unknown[];
  /** When each result carrying errors arrived (performance.now()). */
  errorTimes: number[];
  completed: boolean;
  /** Resolves with the first event (past or future) matching `predicate`. */
  waitFor(predicate: (event: T) => boolean, timeoutMs?: number): Promise<{ at: number; value: T }>;
  stop(): void;
}

export function watch<T = any>(client: Client, query: string, variables: Record<string, unknown>, pick: (data: any) => T): Watch<T> {
  const waiters: { predicate: (e: T) => boolean; resolve: (e: { at: number; value: T }) => void }[] = [];
  const w: Watch<T> = {
    events: [],
    errors: [],
    errorTimes: [],
    completed: false,
    waitFor(predicate, timeoutMs = 10_000) {
      const past = w.events.find((e) => predicate(e.value));
      if (past) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(w.events.map((e) => e.value)).slice(0, 2000)}`)),
          timeoutMs,
        );
        waiters.push({ predicate, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    stop: () => {},
  };
  w.stop = client.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) {
          w.errors.push(...result.errors);
          w.errorTimes.push(performance.now());
        }
        if (!result.data) return;
        const event = { at: performance.now(), value: pick(result.data) };
        w.events.push(event);
        for (const waiter of [...waiters])
          if (waiter.predicate(event.value)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(event);
          }
      },
      error: (error) => w.errors.push(error),
      complete: () => (w.completed = true),
    },
  );
  return w;
}

/** Polls `probe` every `intervalMs` until it returns a truthy value; rejects after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs: number, intervalMs = 100, what = 'condition'): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) throw new Error(`${what}: not met in ${timeoutMs} ms${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// The API as a child process

/** Figures an API child reports about itself (after a full GC when it runs with --expose-gc). */
export interface ApiStats {
  rss: number;
  heapUsed: number;
  external: number;
  /** process.getActiveResourcesInfo(): what keeps the event loop alive, by kind. */
  handles: Record<string, number>;
  handleCount: number;
  /** Open file descriptors of the process (/proc/self/fd). */
  fds: number;
  /** Connections and subscriptions the app holds, as the fixture counts them. */
  sockets: number;
}

export interface ApiProcessOptions {
  databaseUrl: string;
  /** Janus to control (plain RTP is enabled when given). */
  janus?: { httpUrl: string; adminKey: string; apiSecret: string };
  /** buildApp options besides those above (JSON-serialisable). */
  app?: Record<string, unknown>;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Prefix of the child's log lines (stderr), or false to drop them. */
  log?: string | false;
}

export interface ApiProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  readonly exited: boolean;
  /** Asks the child to run `cmd` (see fixtures/api-process.ts) and resolves with its result. */
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  stats(): Promise<ApiStats>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const fixture = fileURLToPath(new URL('./fixtures/api-process.ts', import.meta.url));
const testsDir = fileURLToPath(new URL('../../', import.meta.url));

/** Starts fixtures/api-process.ts (buildApp + IPC) and resolves once it listens. */
export async function startApiProcess(options: ApiProcessOptions): Promise<ApiProcess> {
  const child = fork(fixture, [], {
    cwd: testsDir,
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: {
      ...process.env,
      ...options.env,
      FAULT_DATABASE_URL: options.databaseUrl,
      FAULT_JANUS: options.janus ? JSON.stringify(options.janus) : '',
      FAULT_APP_OPTIONS: JSON.stringify(options.app ?? {}),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const prefix = options.log === undefined ? `[api ${child.pid}]` : options.log;
  const forward = (chunk: Buffer) => {
    if (prefix === false) return;
    for (const line of String(chunk).split('\n')) if (line.trim()) process.stderr.write(`${prefix} ${line}\n`);
  };
  child.stdout!.on('data', forward);
  child.stderr!.on('data', forward);

  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      for (const p of pending.values()) p.reject(new Error(`API process exited (${signal ?? code})`));
      pending.clear();
      resolve();
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('API process did not start in 60 s')), 60_000);
    child.on('message', (message: any) => {
      if (message?.type === 'ready') {
        clearTimeout(timer);
        resolve(message.url);
      } else if (typeof message?.id === 'number') {
        const p = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) p?.reject(new Error(message.error));
        else p?.resolve(message.result);
      }
    });
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error('API process exited before it was ready'));
    });
  });
  const api: ApiProcess = {
    url,
    pid: child.pid!,
    child,
    get exited() {
      return exited;
    },
    call(cmd, args = {}) {
      if (exited) return Promise.reject(new Error('API process has exited'));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, ...args });
      });
    },
    stats: () => api.call<ApiStats>('stats'),
    async kill(signal = 'SIGTERM') {
      if (exited) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
  return api;
}

// ---------------------------------------------------------------------------------------------
// Several instances behind one port

/**
 * A TCP proxy on one loopback port in front of several backends, like a load balancer with
 * health by connect: each new client connection goes to the first backend that accepts a TCP
 * connection (in order), so clients of a dead instance land on the next one when they reconnect.
 * A connection whose backend goes away is closed on the client side too.
 */
export class TcpProxy {
  #server: Server;
  readonly #open = new Set<Socket>();
  port = 0;
  /** Connections forwarded, per backend port. */
  readonly forwarded = new Map<number, number>();

  private constructor(private readonly backends: number[]) {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(backendPorts: number[]): Promise<TcpProxy> {
    const proxy = new TcpProxy(backendPorts);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  #accept(client: Socket) {
    this.#open.add(client);
    client.once('close', () => this.#open.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const tryBackend = (index: number) => {
      if (index >= this.backends.length || client.destroyed) return void client.destroy();
      const port = this.backends[index]!;
      const upstream = connect(port, '127.0.0.1');
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        this.forwarded.set(port, (this.forwarded.get(port) ?? 0) + 1);
        this.#open.add(upstream);
        upstream.once('close', () => this.#open.delete(upstream));
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
      });
      upstream.on('error', () => {
        if (!connected) tryBackend(index + 1);
        else upstream.destroy();
      });
    };
    tryBackend(0);
  }

  async stop(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** Resident memory (VmRSS, bytes) and open file descriptors of a process, from /proc. */
export function procStats(pid: number): { rss: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return { rss: kb * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** Least-squares slope of y over x (units of y per unit of x), and the fit's intercept. */
export function leastSquares(points: { x: number; y: number }[]): { slope: number; intercept: number } {
  const n = points.length;
  if (n < 2) return { slope: 0, intercept: points[0]?.y ?? 0 };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  return { slope, intercept: my - slope * mx };
}
