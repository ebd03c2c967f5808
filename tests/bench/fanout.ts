/**
 * Fan-out benchmark (`pnpm bench`): N WebSocket subscribers on one space, one mutation, and the
 * time until every subscriber has the event — beside a raw `ws` broadcast of the same payload
 * to the same number of sockets, in the same run.
 *
 * Processes (all on 127.0.0.1):
 *   - PostgreSQL: a throwaway cluster (src/support/postgres-cluster.ts), or an existing server
 *     when BENCH_DATABASE_URL / TEST_DATABASE_URL is set (a temporary database is made in it);
 *   - bench/server.ts: the Spaces API (buildApp), PostgreSQL pubsub by default;
 *   - bench/raw-server.ts: a plain `ws` WebSocketServer that broadcasts a POSTed body;
 *   - bench/clients.ts × BENCH_WORKERS: the subscribers (graphql-ws clients signed out, and raw
 *     `ws` clients), so that client work shares no event loop with either server.
 *
 * One round: every subscriber process is armed, then this process notes t0 (process.hrtime,
 * CLOCK_MONOTONIC, shared by all processes) and sends the trigger — for GraphQL the host's
 * `setMuted` (toggled each round: one PARTICIPANT_UPDATED event; reactions are rate limited
 * per user), for raw a POST /broadcast of the GraphQL `next` message captured in the warm-up
 * (same bytes but for the `at` time, same length). A delivery's latency is its arrival time
 * minus t0. Warm-up rounds run until every subscriber got one event (so all are subscribed).
 *
 * Env: BENCH_SIZES (500,1000,5000), BENCH_ROUNDS (5), BENCH_WORKERS (client processes),
 * BENCH_TIMEOUT_MS (240000, whole run), BENCH_ROUND_TIMEOUT_MS (20000), BENCH_PUBSUB
 * (postgres|memory), BENCH_SELECTION (room|minimal), BENCH_DB_POOL (10), BENCH_PROFILE
 * (a folder: the API server writes a V8 CPU profile of each N's measured rounds there),
 * BENCH_JSON (a file: the results as JSON), BENCH_SERVER_NODE_ARGS (extra node flags for the API
 * server, e.g. --max-semi-space-size=64). tsx bench/profile-summary.ts summarises a profile.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { startCluster, type Cluster } from '../src/support/postgres-cluster.ts';
import { boundRun } from './bounds.ts';
import { Child } from './child.ts';

const env = process.env;

const SIZES = (env.BENCH_SIZES ?? '500,1000,5000').split(',').map((s) => Number(s.trim())).filter((n) => n > 0);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 5);
const WORKERS = Math.max(1, Number(env.BENCH_WORKERS ?? Math.min(4, Math.max(2, availableParallelism() - 1))));
const TIMEOUT_MS = Number(env.BENCH_TIMEOUT_MS ?? 240_000);
const ROUND_TIMEOUT_MS = Number(env.BENCH_ROUND_TIMEOUT_MS ?? 20_000);
const PUBSUB = (env.BENCH_PUBSUB ?? 'postgres') as 'postgres' | 'memory';
const SELECTION = env.BENCH_SELECTION ?? 'room';
const TARGET = { n: 5000, p99Ms: 250, ratio: 0.5 };

const SELECTIONS: Record<string, string> = {
  // What a room screen needs to apply a change: the participant with its user, the actor, the space.
  room: `kind at emoji
      space { id state }
      participant { id role muted handRaised speaking audioConnected present user { id handle displayName } }
      user { id handle displayName }`,
  // Only what the payload carries itself: no entity to load.
  minimal: 'kind at emoji',
};
if (!SELECTIONS[SELECTION]) throw new Error(`BENCH_SELECTION must be one of ${Object.keys(SELECTIONS).join(', ')}`);
const SUBSCRIPTION = `subscription Fanout($spaceId: ID!) { spaceEvents(spaceId: $spaceId) { ${SELECTIONS[SELECTION]} } }`;

const startedAt = Date.now();
const remaining = () => TIMEOUT_MS - (Date.now() - startedAt);
const hr = () => Number(process.hrtime.bigint());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...args: unknown[]) => console.error(`[bench ${((Date.now() - startedAt) / 1000).toFixed(1)}s]`, ...args);

// ------------------------------------------------------------------ statistics

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

interface Measure {
  n: number;
  rounds: number;
  deliveries: number;
  missing: number;
  p50: number;
  p99: number;
  max: number;
  /** Per round: the time until every subscriber had the event (ms). */
  allDelivered: number[];
  /** API only: database queries and server CPU per event (averaged over the rounds). */
  queriesPerEvent?: number;
  serverCpuMsPerEvent?: number;
  payloadBytes?: number;
  errors: string[];
}

function summarise(n: number, rounds: { latencies: number[]; missing: number }[], errors: string[]): Measure {
  const all = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    n,
    rounds: rounds.length,
    deliveries: all.length,
    missing: rounds.reduce((s, r) => s + r.missing, 0),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    max: all.at(-1) ?? NaN,
    allDelivered: rounds.map((r) => (r.missing > 0 ? Infinity : Math.max(...r.latencies))),
    errors,
  };
}

// ------------------------------------------------------------------ the run

const children: Child[] = [];
let cluster: Cluster | undefined;
let dropDatabase: (() => Promise<void>) | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(children.map((c) => c.stop().catch(() => {})));
    await dropDatabase?.().catch((e) => log('drop database failed', e));
    await cluster?.stop().catch((e) => log('stopping PostgreSQL failed', e));
  })();
  return cleaning;
}

const results: { graphql: Measure[]; raw: Measure[] } = { graphql: [], raw: [] };
/** API live heap (MB, after a full GC) once n subscribers are connected. */
const heapByN = new Map<number, number>();
const skipped: string[] = [];

const bound = boundRun({ timeoutMs: TIMEOUT_MS, cleanup, log, cleanupMs: 15_000, onTimeout: () => printReport(true) });

async function main() {
  log(
    `sizes ${SIZES.join(', ')}; ${ROUNDS} rounds each; ${WORKERS} subscriber process(es); pubsub ${PUBSUB}; ` +
      `selection ${SELECTION}; fd limit here ${await fdLimit()}`,
  );

  // PostgreSQL
  let databaseUrl = env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL;
  if (databaseUrl) {
    const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    const name = `bench_${randomBytes(5).toString('hex')}`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDatabase = async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
  } else {
    cluster = await startCluster();
    databaseUrl = cluster.url;
  }
  log('PostgreSQL ready');

  // Servers
  const profileEnv: Record<string, string> = env.BENCH_PROFILE ? { BENCH_PROFILE: path.resolve(env.BENCH_PROFILE) } : {};
  const serverNodeArgs = ['--expose-gc', ...(env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const api = new Child('api-server', 'server.ts', { BENCH_DATABASE_URL: databaseUrl, BENCH_PUBSUB: PUBSUB, ...profileEnv }, serverNodeArgs);
  const rawServer = new Child('raw-server', 'raw-server.ts');
  children.push(api, rawServer);
  const [apiReady, rawReady] = await Promise.all([
    api.waitFor((m) => m.type === 'ready', 60_000, 'ready'),
    rawServer.waitFor((m) => m.type === 'ready', 30_000, 'ready'),
  ]);
  const apiUrl = apiReady.url as string;
  const rawUrl = rawReady.url as string;
  log(`API at ${apiUrl}, raw ws at ${rawUrl}`);

  // A live space with its host
  const handle = `bh_${randomBytes(4).toString('hex')}`;
  const signUp = await gql(apiUrl, `mutation($i: SignUpInput!) { signUp(input: $i) { token } }`, {
    i: { handle, displayName: 'Bench host', password: 'correct horse battery' },
  });
  const token = signUp.signUp.token as string;
  const created = await gql(
    apiUrl,
    `mutation { createSpace(input: { title: "Fan-out bench", speakerPolicy: EVERYONE }) { id state } }`,
    {},
    token,
  );
  const spaceId = created.createSpace.id as string;
  let muted = false; // the host starts unmuted
  const triggerGraphql = async () => {
    muted = !muted;
    await gql(apiUrl, `mutation($s: ID!, $m: Boolean!) { setMuted(spaceId: $s, muted: $m) { id muted } }`, { s: spaceId, m: muted }, token);
  };
  let payload: string | undefined;
  const triggerRaw = async () => {
    const body = payload!.replace(/"at":"[^"]*"/, `"at":"${new Date().toISOString()}"`);
    const response = await fetch(`${rawUrl}/broadcast`, { method: 'POST', body });
    if (!response.ok) throw new Error(`raw broadcast: HTTP ${response.status}`);
    await response.text();
  };

  // Subscriber processes
  const workers = Array.from({ length: WORKERS }, (_, i) => new Child(`clients-${i}`, 'clients.ts'));
  children.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor((m) => m.type === 'ready', 30_000, 'ready')));
  const counts = { graphql: workers.map(() => 0), raw: workers.map(() => 0) };
  heapByN.set(0, (await stats(api, true)).heapUsedMb!);

  /** Brings the subscribers of one kind to n in total, spread evenly over the processes. */
  async function grow(mode: 'graphql' | 'raw', n: number) {
    const started = Date.now();
    const replies = workers.map(async (w, i) => {
      const want = Math.floor(n / WORKERS) + (i < n % WORKERS ? 1 : 0);
      const more = want - counts[mode][i]!;
      if (more <= 0) return;
      const reply = await w.request(
        {
          cmd: 'open',
          mode,
          url: mode === 'graphql' ? `${apiUrl.replace(/^http/, 'ws')}/graphql` : `${rawUrl.replace(/^http/, 'ws')}/raw`,
          count: more,
          query: SUBSCRIPTION,
          variables: { spaceId },
        },
        (m) => m.type === 'opened' && m.mode === mode,
        Math.max(1_000, remaining()),
        'opened',
      );
      counts[mode][i] = reply.total;
      if (reply.failed > 0) throw new Error(`${w.name}: ${reply.failed} ${mode} clients failed to open: ${reply.errors.join('; ')}`);
    });
    await Promise.all(replies);
    let memory = '';
    if (mode === 'graphql') {
      const s = await stats(api, true);
      memory = `; API heap ${s.heapUsedMb} MB, RSS ${s.rssMb} MB`;
      heapByN.set(n, s.heapUsedMb!);
    }
    log(`${mode}: ${n} subscribers connected in ${Date.now() - started} ms${memory}`);
  }

  let roundId = 0;
  /** One event to every subscriber of one kind; latencies from the trigger, in ms. */
  async function round(mode: 'graphql' | 'raw', trigger: () => Promise<void>) {
    const id = ++roundId;
    const finished = workers.map((w) =>
      w.waitFor((m) => (m.type === 'done' || m.type === 'collected') && m.mode === mode && m.round === id, ROUND_TIMEOUT_MS + 10_000, `round ${id}`),
    );
    await Promise.all(workers.map((w) => w.request({ cmd: 'arm', mode, round: id }, (m) => m.type === 'armed' && m.round === id, 10_000, 'armed')));
    const server = mode === 'graphql' ? api : rawServer;
    const before = await stats(server);
    const t0 = hr();
    const triggered = trigger();
    const late = setTimeout(() => workers.forEach((w) => w.send({ cmd: 'collect', mode })), ROUND_TIMEOUT_MS);
    const replies = await Promise.all(finished);
    clearTimeout(late);
    await triggered;
    const after = await stats(server);
    const latencies = replies.flatMap((r) => (r.times as number[]).map((t) => (t - t0) / 1e6));
    const missing = replies.reduce((s, r) => s + (r.missing as number), 0);
    const ats = new Set(replies.flatMap((r) => r.ats as string[]));
    const errors = replies.flatMap((r) => r.errors as string[]);
    if (ats.size > 1) errors.push(`round ${id}: ${ats.size} different events arrived (a stale one?)`);
    return {
      latencies,
      missing,
      errors,
      sample: replies.find((r) => r.sample)?.sample as string | undefined,
      queries: mode === 'graphql' ? after.queries - before.queries : undefined,
      cpuMs: (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000,
    };
  }

  async function measure(mode: 'graphql' | 'raw', n: number): Promise<Measure | null> {
    await grow(mode, n);
    const trigger = mode === 'graphql' ? triggerGraphql : triggerRaw;
    // Warm-up: until one event reached every subscriber (so every subscription is in place).
    let warm = false;
    const warmErrors: string[] = [];
    for (let attempt = 1; attempt <= 5 && !warm; attempt++) {
      if (remaining() < ROUND_TIMEOUT_MS) return null;
      const r = await round(mode, trigger);
      warmErrors.push(...r.errors);
      if (mode === 'graphql' && r.sample) payload = r.sample;
      warm = r.missing === 0;
      log(`${mode} N=${n}: warm-up ${attempt}: ${n - r.missing}/${n} got it, all in ${Math.max(...r.latencies).toFixed(1)} ms`);
      if (!warm) await sleep(500);
    }
    if (!warm) throw new Error(`${mode} N=${n}: not every subscriber received the warm-up event: ${warmErrors.slice(0, 5).join('; ')}`);
    const rounds = [];
    const profiling = mode === 'graphql' && !!env.BENCH_PROFILE;
    if (profiling) await api.request({ cmd: 'profile-start' }, (m) => m.type === 'profiling', 10_000, 'profiling');
    for (let i = 0; i < ROUNDS; i++) {
      if (remaining() < ROUND_TIMEOUT_MS + 5_000) {
        if (i > 0) skipped.push(`${mode} N=${n}: stopped after ${i} of ${ROUNDS} rounds (time budget)`);
        break;
      }
      rounds.push(await round(mode, trigger));
      await sleep(100);
    }
    if (profiling) {
      const { file } = await api.request({ cmd: 'profile-stop', name: `api-${SELECTION}-${PUBSUB}-N${n}` }, (m) => m.type === 'profiled', 60_000, 'profiled');
      log(`API CPU profile of the measured rounds: ${file}`);
    }
    if (rounds.length === 0) return null;
    const m = summarise(n, rounds, [...warmErrors, ...rounds.flatMap((r) => r.errors)].slice(0, 10));
    if (mode === 'graphql') m.queriesPerEvent = avg(rounds.map((r) => r.queries!));
    m.serverCpuMsPerEvent = avg(rounds.map((r) => r.cpuMs));
    m.payloadBytes = payload ? Buffer.byteLength(payload) : undefined;
    log(
      `${mode} N=${n}: p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms, max ${m.max.toFixed(1)} ms` +
        (m.missing ? `, ${m.missing} missing` : '') +
        (m.queriesPerEvent !== undefined ? `; ${m.queriesPerEvent.toFixed(0)} DB queries per event` : '') +
        `; ${m.serverCpuMsPerEvent!.toFixed(0)} ms server CPU per event`,
    );
    return m;
  }

  for (const n of SIZES) {
    if (remaining() < 2 * ROUND_TIMEOUT_MS) {
      skipped.push(`N=${n}: skipped (time budget)`);
      continue;
    }
    const g = await measure('graphql', n);
    if (!g) {
      skipped.push(`N=${n}: skipped (time budget)`);
      continue;
    }
    results.graphql.push(g);
    const r = await measure('raw', n);
    if (r) results.raw.push(r);
    else skipped.push(`raw N=${n}: skipped (time budget)`);
  }
}

function avg(xs: number[]) {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

async function stats(child: Child, gc = false) {
  return child.request({ cmd: 'stats', gc }, (m) => m.type === 'stats', 10_000, 'stats') as unknown as Promise<{
    queries: number;
    cpuUserUs: number;
    cpuSystemUs: number;
    heapUsedMb?: number;
    rssMb?: number;
  }>;
}

async function gql(base: string, query: string, variables: Record<string, unknown>, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function fdLimit(): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('bash', ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ulimit -n'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', () => resolve(`${out.trim() || '?'} (children)`));
  });
}

// ------------------------------------------------------------------ report

const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));

let reported = false;
function printReport(partial = false) {
  if (reported) return;
  reported = true;
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `Fan-out: spaceEvents on one space; event PARTICIPANT_UPDATED from the host's setMuted (toggled); ` +
      `pubsub ${PUBSUB}; selection "${SELECTION}"; ${ROUNDS} rounds per N; ${WORKERS} subscriber process(es); ` +
      `API and raw server each in its own process; 127.0.0.1.${partial ? ' PARTIAL (timed out).' : ''}`,
  );
  lines.push('Latency = trigger sent → event received by a subscriber; p50/p99/max over all deliveries of all rounds (ms).');
  lines.push('');
  const header = [
    'N'.padStart(6),
    'GraphQL p50'.padStart(12),
    'p99'.padStart(8),
    'max'.padStart(8),
    'raw p50'.padStart(9),
    'p99'.padStart(8),
    'max'.padStart(8),
    'ratio raw/GQL p99'.padStart(18),
    'DB q/event'.padStart(11),
    'CPU ms/event API'.padStart(17),
    'raw'.padStart(5),
    'API heap MB'.padStart(12),
    'missing'.padStart(8),
  ].join(' ');
  lines.push(header);
  lines.push('-'.repeat(header.length));
  for (const g of results.graphql) {
    const r = results.raw.find((x) => x.n === g.n);
    const ratio = r ? r.p99 / g.p99 : NaN;
    lines.push(
      [
        String(g.n).padStart(6),
        fmt(g.p50).padStart(12),
        fmt(g.p99).padStart(8),
        fmt(g.max).padStart(8),
        fmt(r?.p50).padStart(9),
        fmt(r?.p99).padStart(8),
        fmt(r?.max).padStart(8),
        `${fmt(ratio, 2)}x`.padStart(18),
        fmt(g.queriesPerEvent, 0).padStart(11),
        fmt(g.serverCpuMsPerEvent, 0).padStart(17),
        fmt(r?.serverCpuMsPerEvent, 0).padStart(5),
        fmt(heapByN.get(g.n), 0).padStart(12),
        String(g.missing + (r?.missing ?? 0)).padStart(8),
      ].join(' '),
    );
  }
  const largest = results.graphql.at(-1);
  if (largest && heapByN.has(0) && heapByN.has(largest.n))
    lines.push(
      `API live heap (after a full GC): ${heapByN.get(0)} MB idle, ${heapByN.get(largest.n)} MB with ${largest.n} subscribers ` +
        `(≈ ${((1000 * (heapByN.get(largest.n)! - heapByN.get(0)!)) / largest.n).toFixed(0)} KB per subscriber).`,
    );
  const payloadBytes = results.graphql.find((g) => g.payloadBytes)?.payloadBytes;
  if (payloadBytes) lines.push(`Payload: ${payloadBytes} bytes (the GraphQL next message; the raw broadcast sends the same bytes).`);
  for (const s of skipped) lines.push(`Note: ${s}`);
  for (const m of [...results.graphql, ...results.raw])
    if (m.errors.length) lines.push(`Errors at N=${m.n}: ${m.errors.slice(0, 3).join(' | ')}`);
  const g = results.graphql.find((x) => x.n === TARGET.n);
  const r = results.raw.find((x) => x.n === TARGET.n);
  if (g && r) {
    const ratio = r.p99 / g.p99;
    const ok = g.missing === 0 && g.p99 <= TARGET.p99Ms && ratio >= TARGET.ratio;
    lines.push(
      `Target (N=${TARGET.n}: GraphQL p99 ≤ ${TARGET.p99Ms} ms and ≥ ${TARGET.ratio}x the raw broadcast): ` +
        `${ok ? 'MET' : 'NOT MET'} — p99 ${fmt(g.p99)} ms ${g.p99 <= TARGET.p99Ms ? '≤' : '>'} ${TARGET.p99Ms} ms; ` +
        `ratio ${fmt(ratio, 2)}x ${ratio >= TARGET.ratio ? '≥' : '<'} ${TARGET.ratio}x`,
    );
  } else lines.push(`Target (N=${TARGET.n}): not measured in this run.`);
  console.log(lines.join('\n'));
  if (env.BENCH_JSON) writeFileSync(env.BENCH_JSON, JSON.stringify({ config: { SIZES, ROUNDS, WORKERS, PUBSUB, SELECTION }, results, skipped }, null, 2));
}

await bound.run(main, printReport);
