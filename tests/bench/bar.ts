/**
 * Spaces-bar benchmark (`pnpm bench`, or `cd tests && npx tsx bench/bar.ts`): what following
 * costs while many home screens are open. N signed-in `spacesBar` subscribers, none of whom
 * follows the users who act; a few users toggle follow/unfollow as fast as they can for
 * BENCH_BAR_SECONDS; meanwhile /healthz is probed. With 0 subscribers (the baseline), then 300,
 * then 3,000 (BENCH_BAR_SIZES). The cost of a toggle should not grow with unrelated subscribers.
 *
 * Processes (all on 127.0.0.1):
 *   - PostgreSQL: a throwaway cluster (src/support/postgres-cluster.ts), or a temporary database
 *     in BENCH_DATABASE_URL / TEST_DATABASE_URL;
 *   - bench/server.ts: the Spaces API (buildApp), PostgreSQL pubsub by default;
 *   - bench/clients.ts × BENCH_WORKERS: the subscribers (graphql-ws, each with its own token).
 *
 * Population, written straight into the database (signing up thousands through argon2 would take
 * minutes): BENCH_BAR_HOSTS (5) users host a live space (made through the API); the subscribers
 * each follow 2 of them and 8 of BENCH_BAR_BACKGROUND (100) other users, so every bar holds
 * spaces. BENCH_BAR_TOGGLERS (4) users, followed by no subscriber, each toggle following one
 * background user, one mutation after another (the loops run concurrently).
 *
 * Per N: toggles/s (follow or unfollow mutations completed in the window), their latency,
 * /healthz latency (one probe every 50 ms, sequentially), database queries and API CPU per toggle
 * (until the API is idle again; the probes' own queries subtracted), how long the API kept
 * querying after the toggling stopped (backlog), and how many bar messages reached the
 * (unrelated) subscribers meanwhile: should be 0, a bar is sent only when it changes.
 *
 * Env: BENCH_BAR_SIZES (0,300,3000), BENCH_BAR_SECONDS (5), BENCH_WORKERS, BENCH_PUBSUB
 * (postgres|memory), BENCH_BAR_TIMEOUT_MS (420000, whole run), BENCH_BAR_JSON (a file: the results
 * as JSON), BENCH_RATE_LIMITS (JSON: extra buildApp rateLimits overrides for bench/server.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import postgres from 'postgres';
import { benchDatabase, percentile } from './database.ts';
import { boundRun } from './bounds.ts';
import { Child } from './child.ts';

const env = process.env;
const SIZES = (env.BENCH_BAR_SIZES ?? '0,300,3000').split(',').map((s) => Number(s.trim())).filter((n) => n >= 0);
const SECONDS = Number(env.BENCH_BAR_SECONDS ?? 5);
const WORKERS = Math.max(1, Number(env.BENCH_WORKERS ?? Math.min(4, Math.max(2, availableParallelism() - 1))));
const PUBSUB = (env.BENCH_PUBSUB ?? 'postgres') as 'postgres' | 'memory';
const TIMEOUT_MS = Number(env.BENCH_BAR_TIMEOUT_MS ?? 420_000);
const HOSTS = Number(env.BENCH_BAR_HOSTS ?? 5);
const BACKGROUND = Number(env.BENCH_BAR_BACKGROUND ?? 100);
const TOGGLERS = Number(env.BENCH_BAR_TOGGLERS ?? 4);
/** The API is considered idle again once it sent no query for this long. */
const QUIET_MS = 500;
const DRAIN_LIMIT_MS = 60_000;

const SUBSCRIPTION = `subscription Bar { spacesBar { id title state participantCount listenerCount
  host { id handle displayName } stage { id role user { id handle displayName } } } }`;

const startedAt = Date.now();
const remaining = () => TIMEOUT_MS - (Date.now() - startedAt);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...args: unknown[]) => console.error(`[bar ${((Date.now() - startedAt) / 1000).toFixed(1)}s]`, ...args);

interface Result {
  n: number;
  toggles: number;
  togglesPerSecond: number;
  toggleP50: number;
  toggleP99: number;
  rateLimited: number;
  healthP50: number;
  healthP99: number;
  healthMax: number;
  healthProbes: number;
  queriesPerToggle: number;
  cpuMsPerToggle: number;
  drainMs: number;
  barMessages: number;
  errors: string[];
}

const results: Result[] = [];
const skipped: string[] = [];
const children: Child[] = [];
let database: { release(): Promise<void> } | undefined;
let admin: postgres.Sql | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
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

async function gql(base: string, query: string, variables: Record<string, unknown>, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string; retryAfterMs?: number } }[] };
}

async function main() {
  log(`sizes ${SIZES.join(', ')}; ${SECONDS} s of toggling by ${TOGGLERS} users each; ${WORKERS} subscriber process(es); pubsub ${PUBSUB}`);
  const db = await benchDatabase(log);
  database = db;
  const databaseUrl = db.url;

  const api = new Child(
    'api-server',
    'server.ts',
    // The togglers are far past the follow limit by design (the limit is not what is measured).
    { BENCH_DATABASE_URL: databaseUrl, BENCH_PUBSUB: PUBSUB, BENCH_RATE_LIMITS: env.BENCH_RATE_LIMITS ?? '{"followPerMinutePerUser":1e9}' },
    ['--expose-gc'],
  );
  children.push(api);
  const apiUrl = (await api.waitFor((m) => m.type === 'ready', 60_000, 'ready')).url as string;
  log(`API at ${apiUrl}`);
  admin = postgres(databaseUrl, { max: 4, onnotice: () => {} });

  // Population
  const tag = randomBytes(2).toString('hex');
  const hosts = await makeUsers(admin, `h${tag}_`, HOSTS);
  const background = await makeUsers(admin, `b${tag}_`, BACKGROUND);
  const togglers = await makeUsers(admin, `t${tag}_`, TOGGLERS);
  const subscribers = await makeUsers(admin, `s${tag}_`, Math.ceil(Math.max(0, ...SIZES) * 1.1) + 50); // spares for retried opens
  for (const host of hosts) {
    const created = await gql(apiUrl, `mutation { createSpace(input: { title: "Bar bench", speakerPolicy: EVERYONE }) { id state } }`, {}, host.token);
    if (created.errors) throw new Error(`createSpace: ${JSON.stringify(created.errors)}`);
  }
  const follows: { follower_id: string; followee_id: string }[] = [];
  subscribers.forEach((s, i) => {
    for (let k = 0; k < 2; k++) follows.push({ follower_id: s.id, followee_id: hosts[(i + k) % HOSTS]!.id });
    for (let k = 0; k < 8; k++) follows.push({ follower_id: s.id, followee_id: background[(i * 8 + k) % BACKGROUND]!.id });
  });
  for (let from = 0; from < follows.length; from += 5000) await admin`insert into follows ${admin(follows.slice(from, from + 5000))}`;
  await admin`analyze`;
  log(`${HOSTS} live spaces, ${subscribers.length} subscribers' accounts with ${follows.length} follows, ${TOGGLERS} togglers`);

  const workers = Array.from({ length: WORKERS }, (_, i) => new Child(`clients-${i}`, 'clients.ts'));
  children.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor((m) => m.type === 'ready', 30_000, 'ready')));
  const counts = workers.map(() => 0);
  let opened = 0;
  let openFailures = 0;

  const stats = () =>
    api.request({ cmd: 'stats' }, (m) => m.type === 'stats', 10_000, 'stats') as unknown as Promise<{ queries: number; cpuUserUs: number; cpuSystemUs: number }>;
  const messages = async () => {
    const replies = await Promise.all(workers.map((w) => w.request({ cmd: 'messages', mode: 'graphql' }, (m) => m.type === 'messages', 10_000, 'messages')));
    return { withAny: replies.reduce((s, r) => s + (r.withAny as number), 0), total: replies.reduce((s, r) => s + (r.total as number), 0) };
  };
  /** Waits until the API sent no query for QUIET_MS; returns how long that took. */
  const drain = async () => {
    const t0 = Date.now();
    let last = (await stats()).queries;
    let quietSince = Date.now();
    while (Date.now() - quietSince < QUIET_MS && Date.now() - t0 < DRAIN_LIMIT_MS) {
      await sleep(100);
      const now = (await stats()).queries;
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      }
    }
    return Math.max(0, quietSince - t0);
  };

  async function grow(n: number) {
    const started = Date.now();
    await Promise.all(
      workers.map(async (w, i) => {
        const want = Math.floor(n / WORKERS) + (i < n % WORKERS ? 1 : 0);
        // A busy machine can miss graphql-ws's 3 s connection_init deadline: try those again.
        for (let attempt = 1; counts[i]! < want; attempt++) {
          const more = want - counts[i]!;
          const tokens = subscribers.slice(opened, opened + more).map((s) => s.token);
          opened += more;
          const reply = await w.request(
            { cmd: 'open', mode: 'graphql', url: `${apiUrl.replace(/^http/, 'ws')}/graphql`, count: more, query: SUBSCRIPTION, variables: {}, tokens },
            (m) => m.type === 'opened' && m.mode === 'graphql',
            Math.max(1_000, remaining()),
            'opened',
          );
          counts[i]! += more - reply.failed;
          if (reply.failed === 0) break;
          openFailures += reply.failed;
          if (attempt === 3) throw new Error(`${w.name}: ${reply.failed} clients failed to open: ${reply.errors.join('; ')}`);
          log(`${w.name}: ${reply.failed} clients failed to open (${reply.errors[0]}); trying again`);
        }
      }),
    );
    // Every subscription has its first bar (so every one is in place).
    const openedAt = Date.now();
    for (let lastLog = openedAt; ; ) {
      const m = await messages();
      if (m.withAny >= n) break;
      if (Date.now() - openedAt > Math.max(60_000, 40 * n)) throw new Error(`only ${m.withAny}/${n} subscribers got their first bar`);
      if (Date.now() - lastLog > 10_000) {
        log(`${m.withAny}/${n} subscribers have their first bar`);
        lastLog = Date.now();
      }
      await sleep(200);
    }
    log(`${n} subscribers connected, each with its bar, in ${Date.now() - started} ms${openFailures ? ` (${openFailures} opens retried so far)` : ''}`);
  }

  /** Database queries of one /healthz probe (subtracted from the toggles' count). */
  let queriesPerProbe = 0;

  async function measure(n: number): Promise<Result> {
    await grow(n);
    await drain();
    if (n === 0 || queriesPerProbe === 0) {
      const q0 = (await stats()).queries;
      for (let i = 0; i < 10; i++) await (await fetch(`${apiUrl}/healthz`)).text();
      queriesPerProbe = ((await stats()).queries - q0) / 10;
    }
    const before = await stats();
    const barsBefore = (await messages()).total;
    const errors: string[] = [];
    const toggleTimes: number[] = [];
    let rateLimited = 0;
    let completed = 0;
    let running = true;
    const t0 = Date.now();
    const loops = togglers.map(async (t, i) => {
      const target = Buffer.from(`User:${background[i % BACKGROUND]!.id}`).toString('base64url');
      let follow = true;
      while (running) {
        const started = performance.now();
        const r = await gql(apiUrl, `mutation($u: ID!) { ${follow ? 'follow' : 'unfollow'}(userId: $u) { id } }`, { u: target }, t.token);
        const code = r.errors?.[0]?.extensions?.code;
        if (code === 'RATE_LIMITED') {
          rateLimited++;
          await sleep(Math.min(1000, r.errors?.[0]?.extensions?.retryAfterMs ?? 100));
          continue;
        }
        if (r.errors) {
          if (errors.length < 5) errors.push(JSON.stringify(r.errors).slice(0, 200));
          await sleep(50);
          continue;
        }
        // Latency of every toggle started in the window (also those that end after it);
        // toggles/s counts those that completed within it.
        toggleTimes.push(performance.now() - started);
        if (running) completed++;
        follow = !follow;
      }
    });
    const health: number[] = [];
    const probe = (async () => {
      while (running) {
        const started = performance.now();
        const response = await fetch(`${apiUrl}/healthz`);
        await response.text();
        health.push(performance.now() - started);
        await sleep(50);
      }
    })();
    await sleep(SECONDS * 1000);
    running = false;
    const elapsed = (Date.now() - t0) / 1000;
    const togglesDone = completed;
    await Promise.all([...loops, probe]);
    const drainMs = await drain();
    const after = await stats();
    const barMessages = (await messages()).total - barsBefore;
    const result: Result = {
      n,
      toggles: togglesDone,
      togglesPerSecond: togglesDone / elapsed,
      toggleP50: percentile(toggleTimes, 50),
      toggleP99: percentile(toggleTimes, 99),
      rateLimited,
      healthP50: percentile(health, 50),
      healthP99: percentile(health, 99),
      healthMax: Math.max(...health),
      healthProbes: health.length,
      // Over every toggle started (all of their work is in), less what the /healthz probes cost.
      queriesPerToggle: (after.queries - before.queries - health.length * queriesPerProbe) / Math.max(1, toggleTimes.length),
      cpuMsPerToggle: (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000 / Math.max(1, toggleTimes.length),
      drainMs,
      barMessages,
      errors,
    };
    log(
      `N=${n}: ${result.togglesPerSecond.toFixed(1)} toggles/s (p50 ${fmt(result.toggleP50)} ms, p99 ${fmt(result.toggleP99)} ms); ` +
        `/healthz p50 ${fmt(result.healthP50)} ms, p99 ${fmt(result.healthP99)} ms; ${fmt(result.queriesPerToggle)} queries per toggle; ` +
        `backlog ${drainMs} ms; ${barMessages} bar messages`,
    );
    return result;
  }

  for (const n of [...SIZES].sort((a, b) => a - b)) {
    if (remaining() < SECONDS * 1000 + 30_000) {
      skipped.push(`N=${n}: skipped (time budget)`);
      continue;
    }
    results.push(await measure(n));
  }
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));

let reported = false;
function printReport(partial = false) {
  if (reported) return;
  reported = true;
  const lines = [
    '',
    `Spaces bar: ${TOGGLERS} users toggle follow/unfollow for ${SECONDS} s (one mutation at a time each) while N signed-in ` +
      `spacesBar subscribers, none following them, are connected; pubsub ${PUBSUB}; ${WORKERS} subscriber process(es); 127.0.0.1.` +
      (partial ? ' PARTIAL (timed out).' : ''),
    '',
  ];
  const header = [
    'N'.padStart(6),
    'toggles/s'.padStart(10),
    'toggle p50'.padStart(11),
    'p99'.padStart(8),
    '/healthz p50'.padStart(13),
    'p99'.padStart(8),
    'max'.padStart(8),
    'DB q/toggle'.padStart(12),
    'CPU ms/toggle'.padStart(14),
    'backlog ms'.padStart(11),
    'bar msgs'.padStart(9),
    'limited'.padStart(8),
  ].join(' ');
  lines.push(header, '-'.repeat(header.length));
  for (const r of results)
    lines.push(
      [
        String(r.n).padStart(6),
        fmt(r.togglesPerSecond).padStart(10),
        fmt(r.toggleP50).padStart(11),
        fmt(r.toggleP99).padStart(8),
        fmt(r.healthP50).padStart(13),
        fmt(r.healthP99).padStart(8),
        fmt(r.healthMax).padStart(8),
        fmt(r.queriesPerToggle).padStart(12),
        fmt(r.cpuMsPerToggle, 2).padStart(14),
        String(r.drainMs).padStart(11),
        String(r.barMessages).padStart(9),
        String(r.rateLimited).padStart(8),
      ].join(' '),
    );
  lines.push(
    'toggles/s: mutations completed within the window. toggle p50/p99: latency of one follow/unfollow mutation started in it (ms). backlog: how long the API kept querying after the ' +
      'toggling stopped. bar msgs: bars sent to the unrelated subscribers during the run (expected 0). limited: RATE_LIMITED answers.',
  );
  for (const s of skipped) lines.push(`Note: ${s}`);
  for (const r of results) if (r.errors.length) lines.push(`Errors at N=${r.n}: ${r.errors.join(' | ')}`);
  console.log(lines.join('\n'));
  if (env.BENCH_BAR_JSON) writeFileSync(env.BENCH_BAR_JSON, JSON.stringify({ config: { SIZES, SECONDS, TOGGLERS, WORKERS, PUBSUB }, results, skipped }, null, 2));
}

await bound.run(main, printReport);
