/**
 * Join-storm benchmark (`pnpm bench`, or `cd tests && npx tsx bench/join-storm.ts`): what it costs
 * when a crowd joins ONE space that many people watch. BENCH_STORM_JOINS (5,000) distinct users
 * join one live space while BENCH_STORM_SUBSCRIBERS (1,000) WebSocket clients are subscribed to
 * its spaceEvents; then they all leave again. The baseline, in the same run and with the same
 * subscribers connected: the same users each join a different live space (no shared space row,
 * nobody watching), which is what a join costs by itself.
 *
 * Per phase: joins (or leaves) per second, their latency p50/p99/max (mutation sent → answer),
 * database queries and API CPU per join; for the storm also what the subscribers received: total
 * messages, messages per subscriber per second (must stay O(1), not O(joins): past
 * AUDIENCE_EVENT_THRESHOLD listeners joins arrive as at most one AUDIENCE_UPDATED a second), and,
 * from one observing subscriber in this process, the kinds it got and whether the summaries add
 * up to every join. Then paging through the 5,000 listeners with participants(group: AUDIENCE):
 * page latency and the query plan of a deep page.
 *
 * Processes (all on 127.0.0.1):
 *   - PostgreSQL: a throwaway cluster (src/support/postgres-cluster.ts), or a temporary database
 *     in BENCH_DATABASE_URL / TEST_DATABASE_URL;
 *   - bench/server.ts: the Spaces API (buildApp), PostgreSQL pubsub by default;
 *   - bench/clients.ts × BENCH_WORKERS: the subscribers (graphql-ws, signed out);
 *   - this process: the joiners (BENCH_STORM_CONCURRENCY requests in flight over HTTP keep-alive).
 *
 * Population, written straight into the database (signing up thousands through argon2 would take
 * minutes): the joiners with a session each, and one host per baseline space with its space live.
 *
 * Env: BENCH_STORM_JOINS (5000), BENCH_STORM_SUBSCRIBERS (1000), BENCH_STORM_CONCURRENCY (32),
 * BENCH_WORKERS, BENCH_PUBSUB (postgres|memory), BENCH_STORM_TIMEOUT_MS (900000, whole run),
 * BENCH_STORM_JSON (a file: the results as JSON).
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import postgres from 'postgres';
import { AUDIENCE_EVENT_THRESHOLD, AUDIENCE_UPDATE_INTERVAL_MS } from '@spaces/api/rules';
import { benchDatabase, percentile } from './database.ts';
import { subscribe, wsClient, type Subscription } from '../src/support/ws.ts';
import { boundRun } from './bounds.ts';
import { Child } from './child.ts';

const env = process.env;
const JOINS = Number(env.BENCH_STORM_JOINS ?? 5000);
const SUBSCRIBERS = Number(env.BENCH_STORM_SUBSCRIBERS ?? 1000);
const CONCURRENCY = Number(env.BENCH_STORM_CONCURRENCY ?? 32);
const WORKERS = Math.max(1, Number(env.BENCH_WORKERS ?? Math.min(4, Math.max(2, availableParallelism() - 1))));
const PUBSUB = (env.BENCH_PUBSUB ?? 'postgres') as 'postgres' | 'memory';
const TIMEOUT_MS = Number(env.BENCH_STORM_TIMEOUT_MS ?? 900_000);

/** What a room screen selects: enough to show a join, a leave or a summary. */
const SUBSCRIPTION = `subscription Storm($spaceId: ID!) { spaceEvents(spaceId: $spaceId) { kind at
  participant { id role muted handRaised user { id handle displayName } } user { id handle displayName }
  audience { listenerCount joined left sample { id handle displayName } } } }`;
const JOIN = `mutation($s: ID!) { joinSpace(spaceId: $s) { id role } }`;
const LEAVE = `mutation($s: ID!) { leaveSpace(spaceId: $s) }`;

const startedAt = Date.now();
const remaining = () => TIMEOUT_MS - (Date.now() - startedAt);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hr = () => Number(process.hrtime.bigint());
const log = (...args: unknown[]) => console.error(`[storm ${((Date.now() - startedAt) / 1000).toFixed(1)}s]`, ...args);

interface Run {
  label: string;
  operations: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  queriesPerOp: number;
  cpuMsPerOp: number;
  errors: string[];
  /** The API's active database sessions by what they wait on, averaged over samples. */
  dbWaits: string;
  /** Storm phases: what the subscribers received meanwhile (until the last summary went out). */
  messages?: number;
  messagesPerSubscriberPerSecond?: number;
}

interface Observed {
  kinds: Record<string, number>;
  summarisedJoins: number;
  summarisedLeaves: number;
  lastListenerCount: number | null;
  /** Most AUDIENCE_UPDATED within any one second (sliding, by their `at`). */
  maxUpdatesInASecond: number;
  minGapMs: number | null;
}

const results: { runs: Run[]; observed: Record<string, Observed>; paging?: Record<string, unknown>; notes: string[] } = {
  runs: [],
  observed: {},
  notes: [],
};
const children: Child[] = [];
let database: { release(): Promise<void> } | undefined;
let admin: postgres.Sql | undefined;
let cleaning: Promise<void> | undefined;
let observer: { dispose(): void | Promise<void> } | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.resolve(observer?.dispose()).catch(() => {});
    await Promise.all(children.map((c) => c.stop().catch(() => {})));
    await admin?.end({ timeout: 2 }).catch(() => {});
    await database?.release();
  })();
  return cleaning;
}

const bound = boundRun({ timeoutMs: TIMEOUT_MS, cleanup, log, cleanupMs: 15_000, onTimeout: () => printReport(true) });

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

interface Person {
  id: string;
  token: string;
}

/** Users with a session each, straight into the tables (same token scheme as Accounts). */
async function makeUsers(sql: postgres.Sql, prefix: string, count: number): Promise<Person[]> {
  const people: Person[] = [];
  for (let from = 0; from < count; from += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - from) }, (_, i) => ({
      handle: `${prefix}${(from + i).toString(36)}`,
      display_name: `${prefix} ${from + i}`,
      password_hash: 'bench: no password',
    }));
    const ids = await sql<{ id: string }[]>`insert into users ${sql(rows)} returning id`;
    const tokens = ids.map(() => randomBytes(32).toString('base64url'));
    const expires = new Date(Date.now() + 86_400_000);
    await sql`insert into sessions ${sql(ids.map((r, i) => ({ user_id: r.id, token_hash: hashToken(tokens[i]!), expires_at: expires })))}`;
    ids.forEach((r, i) => people.push({ id: r.id, token: tokens[i]! }));
  }
  return people;
}

const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64url');

async function gql(base: string, query: string, variables: Record<string, unknown>, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

async function must(base: string, query: string, variables: Record<string, unknown>, token?: string) {
  const body = await gql(base, query, variables, token);
  if (body.errors?.length || !body.data) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

function observe(sub: Subscription<any>, from: number): Observed {
  const events = sub.events.slice(from);
  const kinds: Record<string, number> = {};
  for (const e of events) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  const updates = events.filter((e) => e.kind === 'AUDIENCE_UPDATED');
  const times = updates.map((e) => Date.parse(e.at));
  let maxInASecond = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 1000) j++;
    maxInASecond = Math.max(maxInASecond, i - j + 1);
  }
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  return {
    kinds,
    summarisedJoins: updates.reduce((n, e) => n + e.audience.joined, 0),
    summarisedLeaves: updates.reduce((n, e) => n + e.audience.left, 0),
    lastListenerCount: updates.at(-1)?.audience.listenerCount ?? null,
    maxUpdatesInASecond: maxInASecond,
    minGapMs: gaps.length ? Math.min(...gaps) : null,
  };
}

async function main() {
  log(`${JOINS} joins, ${SUBSCRIBERS} subscribers, ${CONCURRENCY} joins in flight, ${WORKERS} subscriber process(es), pubsub ${PUBSUB}`);
  const db = await benchDatabase(log);
  database = db;
  const databaseUrl = db.url;

  const api = new Child(
    'api-server',
    'server.ts',
    // Each joiner joins and leaves a few times; the per-user limit is not what is measured.
    { BENCH_DATABASE_URL: databaseUrl, BENCH_PUBSUB: PUBSUB, BENCH_RATE_LIMITS: '{"joinLeavePerMinutePerUser":1e9}' },
    ['--expose-gc'],
  );
  children.push(api);
  const apiUrl = (await api.waitFor((m) => m.type === 'ready', 60_000, 'ready')).url as string;
  log(`API at ${apiUrl}`);
  admin = postgres(databaseUrl, { max: 4, onnotice: () => {} });
  const stats = () =>
    api.request({ cmd: 'stats' }, (m) => m.type === 'stats', 10_000, 'stats') as unknown as Promise<{ queries: number; cpuUserUs: number; cpuSystemUs: number }>;

  // Population: the joiners; the storm space's host; one host and live space per baseline join.
  const tag = randomBytes(2).toString('hex');
  const joiners = await makeUsers(admin, `j${tag}_`, JOINS);
  const [host] = await makeUsers(admin, `h${tag}_`, 1);
  const soloHosts = await makeUsers(admin, `s${tag}_`, JOINS);
  const stormSpace = (await must(apiUrl, `mutation { createSpace(input: { title: "Join storm", speakerPolicy: EVERYONE }) { id } }`, {}, host!.token))
    .createSpace.id as string;
  const soloSpaces: string[] = [];
  for (let from = 0; from < JOINS; from += 1000) {
    const batch = soloHosts.slice(from, from + 1000);
    const now = new Date();
    const rows = await admin<{ id: string; host_id: string }[]>`insert into spaces ${admin(
      batch.map((h, i) => ({ host_id: h.id, title: `Solo ${from + i}`, state: 'LIVE', speaker_policy: 'EVERYONE', started_at: now })),
    )} returning id, host_id`;
    await admin`insert into participants ${admin(rows.map((r) => ({ space_id: r.id, user_id: r.host_id, role: 'HOST', muted: false })))}`;
    soloSpaces.push(...rows.map((r) => globalId('Space', r.id)));
  }
  await admin`analyze`;
  log(`${JOINS} joiners, ${JOINS} live baseline spaces and the storm space ready`);

  // Subscribers on the storm space, and one observer here that keeps every event.
  const workers = Array.from({ length: WORKERS }, (_, i) => new Child(`clients-${i}`, 'clients.ts'));
  children.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor((m) => m.type === 'ready', 30_000, 'ready')));
  const wsUrl = `${apiUrl.replace(/^http/, 'ws')}/graphql`;
  await Promise.all(
    workers.map(async (w, i) => {
      const count = Math.floor(SUBSCRIBERS / WORKERS) + (i < SUBSCRIBERS % WORKERS ? 1 : 0);
      const reply = await w.request(
        { cmd: 'open', mode: 'graphql', url: wsUrl, count, query: SUBSCRIPTION, variables: { spaceId: stormSpace } },
        (m) => m.type === 'opened',
        Math.max(1_000, remaining()),
        'opened',
      );
      if (reply.failed > 0) throw new Error(`${w.name}: ${reply.failed} subscribers failed to open: ${reply.errors.join('; ')}`);
    }),
  );
  const client = wsClient(apiUrl);
  observer = client;
  const watch = subscribe<any>(client, SUBSCRIPTION, { spaceId: stormSpace }, (d) => d.spaceEvents);
  const messages = async () => {
    const replies = await Promise.all(workers.map((w) => w.request({ cmd: 'messages', mode: 'graphql' }, (m) => m.type === 'messages', 10_000, 'messages')));
    return { withAny: replies.reduce((s, r) => s + (r.withAny as number), 0), total: replies.reduce((s, r) => s + (r.total as number), 0) };
  };
  // Warm-up: the host mutes and unmutes until every subscription has had an event.
  for (let muted = true, attempt = 0; ; muted = !muted, attempt++) {
    await must(apiUrl, `mutation($s: ID!, $m: Boolean!) { setMuted(spaceId: $s, muted: $m) { id } }`, { s: stormSpace, m: muted }, host!.token);
    await sleep(1_000);
    const m = await messages();
    if (m.withAny >= SUBSCRIBERS && watch.events.length > 0) break;
    if (attempt >= 30) throw new Error(`only ${m.withAny}/${SUBSCRIBERS} subscribers got the warm-up event`);
  }
  log(`${SUBSCRIBERS} subscribers on the storm space, each with an event`);

  /** Every joiner runs `mutation` once on the space `target(i)`; CONCURRENCY at a time. */
  async function run(label: string, mutation: string, target: (i: number) => string, storm: boolean): Promise<Run> {
    const latencies: number[] = [];
    const errors: string[] = [];
    const before = await stats();
    const messagesBefore = storm ? (await messages()).total : 0;
    // What the API's database sessions wait on meanwhile (sampled): lock waits would show here.
    const waits = new Map<string, number>();
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const rows = await admin!<{ wait: string; n: number }[]>`
          select coalesce(wait_event_type || ':' || wait_event, 'running') as wait, count(*)::int as n
          from pg_stat_activity where application_name = 'spaces-bench' and state = 'active' group by 1`;
        samples++;
        for (const r of rows) waits.set(r.wait, (waits.get(r.wait) ?? 0) + r.n);
        await sleep(100);
      }
    })();
    const t0 = hr();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          if (i >= JOINS) return;
          const sent = hr();
          try {
            const body = await gql(apiUrl, mutation, { s: target(i) }, joiners[i]!.token);
            if (body.errors?.length && errors.length < 10) errors.push(`${body.errors[0]!.extensions?.code}: ${body.errors[0]!.message}`);
          } catch (error) {
            if (errors.length < 10) errors.push(String(error));
          }
          latencies.push((hr() - sent) / 1e6);
        }
      }),
    );
    const seconds = (hr() - t0) / 1e9;
    sampling = false;
    await sampler;
    const after = await stats();
    const result: Run = {
      label,
      operations: JOINS,
      seconds,
      perSecond: JOINS / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      queriesPerOp: (after.queries - before.queries) / JOINS,
      cpuMsPerOp: (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000 / JOINS,
      errors,
      dbWaits: [...waits].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([wait, n]) => `${wait} ${(n / samples).toFixed(1)}`).join(', '),
    };
    if (storm) {
      // The last summary goes out up to an interval after the last join.
      await sleep(AUDIENCE_UPDATE_INTERVAL_MS * 2 + 500);
      const total = (await messages()).total - messagesBefore;
      result.messages = total;
      result.messagesPerSubscriberPerSecond = total / SUBSCRIBERS / (seconds + (AUDIENCE_UPDATE_INTERVAL_MS * 2 + 500) / 1000);
    }
    log(
      `${label}: ${result.perSecond.toFixed(0)}/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms` +
        `; ${result.queriesPerOp.toFixed(1)} queries and ${result.cpuMsPerOp.toFixed(2)} ms API CPU each` +
        (storm ? `; subscribers got ${result.messages} messages (${result.messagesPerSubscriberPerSecond!.toFixed(2)} per subscriber per second)` : '') +
        (errors.length ? `; errors: ${errors.slice(0, 3).join(' | ')}` : ''),
    );
    results.runs.push(result);
    return result;
  }

  await run('baseline: each joins a different space', JOIN, (i) => soloSpaces[i]!, false);
  let from = watch.events.length;
  await run('storm: all join the one watched space', JOIN, () => stormSpace, true);
  results.observed.joins = observe(watch, from);
  const counted = (await must(apiUrl, `query($s: ID!) { space(id: $s) { listenerCount } }`, { s: stormSpace })).space.listenerCount;
  if (counted !== JOINS) results.notes.push(`listenerCount after the storm is ${counted}, expected ${JOINS}`);

  // Paging through the audience: every listener once, and the plan of a deep page.
  const pageTimes: number[] = [];
  const seen = new Set<string>();
  let after: string | null = null;
  for (;;) {
    const t = hr();
    const page: any = (
      await must(
        apiUrl,
        `query($s: ID!, $a: String) { space(id: $s) { participants(first: 100, after: $a, group: AUDIENCE) { edges { node { id user { handle } } } pageInfo { hasNextPage endCursor } } } }`,
        { s: stormSpace, a: after },
      )
    ).space.participants;
    pageTimes.push((hr() - t) / 1e6);
    for (const e of page.edges) seen.add(e.node.id);
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  const stormId = Buffer.from(stormSpace, 'base64url').toString('utf8').split(':')[1]!;
  const [middle] = await admin<{ role: string; joined_at: Date; id: string }[]>`
    select role, joined_at, id from participants where space_id = ${stormId} and left_at is null and role = 'LISTENER'
    order by role, joined_at, id offset ${Math.floor(JOINS / 2)} limit 1`;
  const plan = await admin.unsafe(
    `explain (analyze, buffers) select * from participants where space_id = $1 and left_at is null and role = 'LISTENER'
     and (role, joined_at, id) > ($2::participant_role, $3::timestamptz, $4::uuid) order by role, joined_at, id limit 101`,
    [stormId, middle!.role, middle!.joined_at.toISOString(), middle!.id],
  );
  const planLines = plan.map((r) => r['QUERY PLAN'] as string);
  results.paging = {
    pages: pageTimes.length,
    listenersSeen: seen.size,
    pageP50: percentile(pageTimes, 50),
    pageP99: percentile(pageTimes, 99),
    deepPagePlan: planLines,
  };
  log(`paged ${seen.size} listeners in ${pageTimes.length} pages: p50 ${percentile(pageTimes, 50).toFixed(1)} ms, p99 ${percentile(pageTimes, 99).toFixed(1)} ms`);

  from = watch.events.length;
  await run('leave storm: all leave the watched space', LEAVE, () => stormSpace, true);
  results.observed.leaves = observe(watch, from);

  // Anything that went wrong for the subscribers (closed sockets, errors).
  const collected = await Promise.all(workers.map((w) => w.request({ cmd: 'collect', mode: 'graphql' }, (m) => m.type === 'collected', 10_000, 'collected')));
  const subscriberErrors = collected.flatMap((c) => c.errors as string[]);
  if (subscriberErrors.length) results.notes.push(`subscriber errors: ${subscriberErrors.slice(0, 5).join(' | ')}`);
  if (watch.errors.length || watch.completed)
    results.notes.push(`observer: ${watch.completed ? 'completed; ' : ''}errors ${JSON.stringify(watch.errors).slice(0, 300)}`);
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));

let reported = false;
function printReport(partial = false) {
  if (reported) return;
  reported = true;
  const lines: string[] = [''];
  lines.push(
    `Join storm: ${JOINS} distinct users, ${SUBSCRIBERS} spaceEvents subscribers on the storm space, ${CONCURRENCY} requests in flight, ` +
      `pubsub ${PUBSUB}, 127.0.0.1; summaries past ${AUDIENCE_EVENT_THRESHOLD} listeners.${partial ? ' PARTIAL (timed out).' : ''}`,
  );
  lines.push('');
  const header = [
    'phase'.padEnd(44),
    'ops/s'.padStart(7),
    'p50 ms'.padStart(8),
    'p99 ms'.padStart(8),
    'max ms'.padStart(8),
    'q/op'.padStart(6),
    'CPU ms/op'.padStart(10),
    'messages'.padStart(9),
    'msg/sub/s'.padStart(10),
    'errors'.padStart(7),
  ].join(' ');
  lines.push(header);
  lines.push('-'.repeat(header.length));
  for (const r of results.runs)
    lines.push(
      [
        r.label.padEnd(44),
        fmt(r.perSecond, 0).padStart(7),
        fmt(r.p50).padStart(8),
        fmt(r.p99).padStart(8),
        fmt(r.max).padStart(8),
        fmt(r.queriesPerOp).padStart(6),
        fmt(r.cpuMsPerOp, 2).padStart(10),
        (r.messages === undefined ? '—' : String(r.messages)).padStart(9),
        fmt(r.messagesPerSubscriberPerSecond, 2).padStart(10),
        String(r.errors.length).padStart(7),
      ].join(' '),
    );
  const base = results.runs[0];
  const storm = results.runs[1];
  if (base && storm)
    lines.push(
      `Storm vs baseline: ${fmt(storm.perSecond / base.perSecond, 2)}x the joins per second, p99 ${fmt(storm.p99 / base.p99, 2)}x; ` +
        `per-join events would have sent ${JOINS * SUBSCRIBERS} messages (${JOINS} per subscriber), the storm sent ${storm.messages ?? '—'} ` +
        `(${fmt((storm.messages ?? NaN) / (JOINS * SUBSCRIBERS) * 100, 2)} %).`,
    );
  for (const [phase, o] of Object.entries(results.observed))
    lines.push(
      `Observer, ${phase}: ${Object.entries(o.kinds).map(([k, n]) => `${n} ${k}`).join(', ')}; summaries count ${o.summarisedJoins} joins and ` +
        `${o.summarisedLeaves} leaves, last listenerCount ${o.lastListenerCount}; at most ${o.maxUpdatesInASecond} AUDIENCE_UPDATED in a second ` +
        `(closest two ${o.minGapMs ?? '—'} ms apart).`,
    );
  const p = results.paging as { pages: number; listenersSeen: number; pageP50: number; pageP99: number; deepPagePlan: string[] } | undefined;
  if (p) {
    lines.push(
      `participants(group: AUDIENCE, first: 100): ${p.listenersSeen} listeners in ${p.pages} pages, page p50 ${fmt(p.pageP50)} ms, p99 ${fmt(p.pageP99)} ms. Plan of the page after the middle:`,
    );
    for (const l of p.deepPagePlan) lines.push(`    ${l}`);
  }
  for (const r of results.runs) lines.push(`Active database sessions, "${r.label}" (average): ${r.dbWaits || '—'}`);
  for (const n of results.notes) lines.push(`Note: ${n}`);
  for (const r of results.runs) if (r.errors.length) lines.push(`Errors in "${r.label}": ${r.errors.slice(0, 3).join(' | ')}`);
  console.log(lines.join('\n'));
  if (env.BENCH_STORM_JSON) writeFileSync(env.BENCH_STORM_JSON, JSON.stringify({ config: { JOINS, SUBSCRIBERS, CONCURRENCY, WORKERS, PUBSUB }, ...results }, null, 2));
}

await bound.run(main, printReport);
