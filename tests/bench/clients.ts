/**
 * A subscriber process for the fan-out benchmark: holds many WebSocket clients, GraphQL
 * (graphql-ws, signed out, one spaceEvents subscription each) and/or raw `ws`, and records when
 * each receives the event of the current round. Times are process.hrtime (CLOCK_MONOTONIC,
 * shared by all processes of the machine), in ns, so the parent compares them with its own.
 *
 * IPC from the parent:
 *   { cmd: 'open', mode, url, count, query?, variables?, tokens? } → { type: 'opened', mode, total, failed }
 *     (tokens: one bearer token per new GraphQL client, sent as connectionParams.authToken)
 *   { cmd: 'arm', mode, round } → { type: 'armed', mode, round } (forget the last round's arrivals)
 *   then, once every client of `mode` has an arrival → { type: 'done', mode, round, ...Arrivals }
 *   { cmd: 'collect', mode } → { type: 'collected', mode, round, ...Arrivals } (what arrived so far)
 *   { cmd: 'messages', mode } → { type: 'messages', mode, clients, withAny, total } (every message
 *     received since the client opened, armed or not: withAny clients got at least one)
 *   { cmd: 'close' }         → closes every socket, exits
 * Arrivals = { times: number[] (ns, one per client that got the event), missing, ats: string[]
 *   (distinct `at` values seen: 1 when every client got the same event), sample?: string
 *   (the first client's message, as the server serialised it), errors }
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

type Mode = 'graphql' | 'raw';

interface Pool {
  /** hrtime ns of this round's first event per client (0 = none yet). */
  got: number[];
  received: number;
  armed: boolean;
  round: number;
  ats: Set<string>;
  /** Messages received per client since it opened, armed or not. */
  messages: number[];
  sample?: string;
  errors: string[];
  close(): void;
}

const pools: Record<Mode, Pool & { closers: (() => void)[] }> = {
  graphql: newPool(),
  raw: newPool(),
};

function newPool(): Pool & { closers: (() => void)[] } {
  const closers: (() => void)[] = [];
  return {
    got: [],
    received: 0,
    armed: false,
    round: 0,
    ats: new Set(),
    messages: [],
    errors: [],
    closers,
    close() {
      for (const c of closers) c();
    },
  };
}

const now = () => Number(process.hrtime.bigint());
const send = (message: unknown) => process.send?.(message);

function arrived(mode: Mode, index: number, at: string | undefined, raw?: () => string) {
  const t = now();
  const pool = pools[mode];
  if (!pool.armed || pool.got[index] !== 0) return;
  pool.got[index] = t;
  pool.received++;
  if (at) pool.ats.add(at);
  if (index === 0 && raw) pool.sample = raw();
  if (pool.received === pool.got.length) {
    pool.armed = false;
    send({ type: 'done', mode, round: pool.round, ...arrivals(pool) });
  }
}

function arrivals(pool: Pool) {
  return {
    times: pool.got.filter((t) => t !== 0),
    missing: pool.got.filter((t) => t === 0).length,
    ats: [...pool.ats],
    sample: pool.sample,
    errors: pool.errors.splice(0, 20),
  };
}

function error(mode: Mode, message: string) {
  const pool = pools[mode];
  if (pool.errors.length < 100) pool.errors.push(message);
}

/** Opens one GraphQL client; resolves once the server acknowledged the connection. */
function openGraphql(
  url: string,
  index: number,
  query: string,
  variables: Record<string, unknown>,
  authToken?: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let client: Client | null = null;
    let settled = false;
    client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      keepAlive: 0,
      connectionParams: authToken ? { authToken } : undefined,
      on: {
        connected: () => {
          settled = true;
          resolve();
        },
        closed: (event) => {
          const code = (event as { code?: number })?.code;
          if (!settled) {
            settled = true;
            reject(new Error(`closed before ack (${code})`));
          } else if (!shuttingDown) error('graphql', `client ${index} closed (${code})`);
        },
        error: (e) => {
          if (!settled) {
            settled = true;
            reject(e instanceof Error ? e : new Error(String((e as { message?: string })?.message ?? e)));
          }
        },
      },
    });
    const unsubscribe = client.subscribe<{ spaceEvents: { at?: string } }>(
      { query, variables },
      {
        next: (value) => {
          pools.graphql.messages[index] = (pools.graphql.messages[index] ?? 0) + 1;
          if (value.errors) error('graphql', JSON.stringify(value.errors).slice(0, 300));
          arrived('graphql', index, value.data?.spaceEvents?.at, () =>
            // What the server wrote: graphql-ws serialises { id, type: 'next', payload } with a uuid id.
            JSON.stringify({ id: '00000000-0000-4000-8000-000000000000', type: 'next', payload: value }),
          );
        },
        error: (e) => error('graphql', `subscription error: ${JSON.stringify(e).slice(0, 300)}`),
        complete: () => {
          if (!shuttingDown) error('graphql', `client ${index} subscription completed`);
        },
      },
    );
    pools.graphql.closers.push(() => {
      unsubscribe();
      void client?.dispose();
    });
  });
}

/** Opens one raw `ws` client; resolves once open. */
function openRaw(url: string, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    let open = false;
    socket.on('open', () => {
      open = true;
      resolve();
    });
    socket.on('message', (data) => {
      // Parse as a client would (graphql-ws's client parses every message too).
      const text = data.toString();
      const message = JSON.parse(text) as { payload?: { data?: { spaceEvents?: { at?: string } } } };
      arrived('raw', index, message.payload?.data?.spaceEvents?.at);
    });
    socket.on('error', (e) => {
      if (!open) reject(e);
      else error('raw', `socket ${index}: ${e.message}`);
    });
    socket.on('close', (code) => {
      if (!open) reject(new Error(`closed before open (${code})`));
      else if (!shuttingDown) error('raw', `socket ${index} closed (${code})`);
    });
    pools.raw.closers.push(() => socket.terminate());
  });
}

let shuttingDown = false;

/** Opens `count` more clients of one kind, at most `concurrency` handshakes at a time. */
async function open(mode: Mode, url: string, count: number, query: string, variables: Record<string, unknown>, tokens?: string[]) {
  const pool = pools[mode];
  const first = pool.got.length;
  let next = 0;
  let failed = 0;
  const concurrency = 64;
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const index = first + i;
      pool.got[index] = 0;
      pool.messages[index] = 0;
      try {
        await (mode === 'graphql' ? openGraphql(url, index, query, variables, tokens?.[i]) : openRaw(url, index));
      } catch (e) {
        failed++;
        error(mode, `open ${index}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { total: pool.got.length, failed };
}

process.on('message', async (message: {
  cmd: string;
  mode: Mode;
  round?: number;
  url: string;
  count: number;
  query?: string;
  variables?: Record<string, unknown>;
  tokens?: string[];
}) => {
  const pool = pools[message.mode];
  switch (message.cmd) {
    case 'open': {
      const result = await open(message.mode, message.url, message.count, message.query ?? '', message.variables ?? {}, message.tokens);
      send({ type: 'opened', mode: message.mode, ...result, errors: pool.errors.splice(0, 20) });
      break;
    }
    case 'arm':
      pool.got.fill(0);
      pool.received = 0;
      pool.ats.clear();
      pool.sample = undefined;
      pool.round = message.round ?? 0;
      pool.armed = pool.got.length > 0;
      send({ type: 'armed', mode: message.mode, round: pool.round });
      if (!pool.armed) send({ type: 'done', mode: message.mode, round: pool.round, ...arrivals(pool) });
      break;
    case 'collect':
      pool.armed = false;
      send({ type: 'collected', mode: message.mode, round: pool.round, ...arrivals(pool) });
      break;
    case 'messages':
      send({
        type: 'messages',
        mode: message.mode,
        clients: pool.messages.length,
        withAny: pool.messages.filter((n) => n > 0).length,
        total: pool.messages.reduce((s, n) => s + n, 0),
      });
      break;
    case 'close':
      shutdown();
      break;
  }
});

function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  pools.graphql.close();
  pools.raw.close();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

send({ type: 'ready' });
