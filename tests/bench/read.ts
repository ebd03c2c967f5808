/**
 * Read benchmark (`pnpm bench`, or `cd tests && pnpm exec tsx bench/read.ts`): what opening a
 * space costs (issue 13, "Performance"). The query a client makes to open a space (the viewer, the
 * space, its host, the stage with users, the viewer's participant, the counts, the first page of
 * 50 listeners: bench/read/documents.ts) at concurrency 1, 16 and 64, three ways against the same
 * PostgreSQL and data:
 *   - ours: the Spaces API's /graphql (bench/server.ts: buildApp, no Janus), with the viewer's
 *     bearer token;
 *   - raw: the same answer, byte for byte, from hand-written postgres.js queries behind a bare
 *     node:http server (bench/read/raw-server.ts): the floor;
 *   - PostGraphile 4.14 serving the same tables (bench/read/postgraphile-server.ts): the peer, with
 *     one GraphQL query of its own shape for the same rows.
 * Before measuring, the three answers are checked to hold the same data (same stage, same
 * listeners, same counts, same viewer participant): the run stops if they do not.
 *
 * Rounds alternate (ours, raw, PostGraphile, ours, …) so that drift hits all alike. Each round:
 * BENCH_READ_WARMUP_MS unmeasured, then BENCH_READ_SECONDS measured with a fixed number of
 * requests in flight (bench/read/load.ts, in this process). Per system and concurrency: req/s
 * (all rounds together, and each round's), p50/p99 latency, answer bytes, the server's Node CPU ms
 * per request and SQL statements per request (counted in each server process).
 *
 * Processes (all on 127.0.0.1): PostgreSQL (a throwaway cluster, or a temporary database in
 * BENCH_DATABASE_URL / TEST_DATABASE_URL), the three servers (each a process of its own, each
 * with a pool of BENCH_DB_POOL = 10 connections), and this one (the load).
 *
 * Env: BENCH_READ_CONCURRENCY (1,16,64), BENCH_READ_SYSTEMS (ours,raw,postgraphile: which to measure), BENCH_READ_SECONDS (4), BENCH_READ_ROUNDS (3),
 * BENCH_READ_WARMUP_MS (1000), BENCH_READ_LISTENERS (60: listeners besides the viewer, a few of
 * whom left), BENCH_READ_BACKGROUND (20 other live spaces), BENCH_READ_TIMEOUT_MS (300000, whole
 * run), BENCH_READ_JSON (a file: the results as JSON), BENCH_PROFILE (a folder: our server writes a
 * V8 CPU profile of its measured rounds at each concurrency there; summarise one with
 * `tsx bench/profile-summary.ts <file>`).
 *
 * The three servers run as `pnpm start` runs the API: NODE_ENV=production (graphql-js leaves out
 * its development-mode checks) and --max-semi-space-size=32 (api/package.json serve), unless
 * BENCH_READ_NODE_ENV / BENCH_READ_NODE_ARGS (space-separated flags) say otherwise.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import postgres from 'postgres';
import { benchDatabase, percentile } from './database.ts';
import { boundRun } from './bounds.ts';
import { Child } from './child.ts';
import { factsOfOurs, factsOfPostGraphile, firstDifference, OURS_QUERY, POSTGRAPHILE_QUERY } from './read/documents.ts';
import { runWindow, type Target, type Window } from './read/load.ts';
import { seed } from './read/seed.ts';

const env = process.env;
const CONCURRENCY = (env.BENCH_READ_CONCURRENCY ?? '1,16,64').split(',').map((s) => Number(s.trim())).filter((n) => n >= 1);
const SECONDS = Number(env.BENCH_READ_SECONDS ?? 4);
const ROUNDS = Math.max(1, Number(env.BENCH_READ_ROUNDS ?? 3));
const WARMUP_MS = Number(env.BENCH_READ_WARMUP_MS ?? 1000);
const LISTENERS = Number(env.BENCH_READ_LISTENERS ?? 60);
const BACKGROUND = Number(env.BENCH_READ_BACKGROUND ?? 20);
const TIMEOUT_MS = Number(env.BENCH_READ_TIMEOUT_MS ?? 300_000);
const PROFILE_DIR = env.BENCH_PROFILE ? path.resolve(env.BENCH_PROFILE) : null;
/** The servers' NODE_ENV: production, as `pnpm start` runs the API. */
const SERVER_NODE_ENV = env.BENCH_READ_NODE_ENV ?? 'production';
/** The servers' Node flags: those `pnpm start` gives the API (api/package.json serve), unless BENCH_READ_NODE_ARGS says otherwise. */
const SERVER_NODE_ARGS = (env.BENCH_READ_NODE_ARGS ?? '--max-semi-space-size=32').split(' ').filter(Boolean);

const POSTGRAPHILE_VERSION = (
  JSON.parse(readFileSync(createRequire(import.meta.url).resolve('postgraphile/package.json'), 'utf8')) as { version: string }
).version;

type SystemName = 'ours' | 'raw' | 'postgraphile';
/** Which systems to measure (BENCH_READ_SYSTEMS, e.g. "ours,raw" while working on ours): all three unless told. */
const SYSTEMS = (env.BENCH_READ_SYSTEMS ?? 'ours,raw,postgraphile')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is SystemName => s === 'ours' || s === 'raw' || s === 'postgraphile');
const LABEL: Record<SystemName, string> = {
  ours: 'our API',
  raw: 'raw postgres.js',
  postgraphile: `PostGraphile ${POSTGRAPHILE_VERSION}`,
};

const startedAt = Date.now();
const remaining = () => TIMEOUT_MS - (Date.now() - startedAt);
const log = (...args: unknown[]) => console.error(`[read ${((Date.now() - startedAt) / 1000).toFixed(1)}s]`, ...args);

interface Stats {
  queries: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

/** One system at one concurrency, all its rounds together. */
interface Result {
  system: SystemName;
  concurrency: number;
  rounds: number[];
  completed: number;
  seconds: number;
  reqPerSecond: number;
  p50: number;
  p99: number;
  bytes: number;
  cpuMsPerRequest: number;
  queriesPerRequest: number;
  errors: number;
  firstError: string | null;
}

const results: Result[] = [];
const notes: string[] = [];
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

async function post(target: Target): Promise<{ text: string; body: any }> {
  const response = await fetch(`${target.baseUrl}${target.path}`, {
    method: 'POST',
    headers: { ...target.headers, 'content-type': 'application/json' },
    body: new Uint8Array(target.body),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${target.name}: HTTP ${response.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text);
  if (body.errors) throw new Error(`${target.name}: ${JSON.stringify(body.errors).slice(0, 500)}`);
  return { text, body };
}

async function main() {
  log(
    `concurrency ${CONCURRENCY.join(', ')}; ${ROUNDS} round(s) of ${SECONDS} s (after ${WARMUP_MS} ms of warm-up) per system and concurrency; ` +
      `servers' NODE_ENV ${SERVER_NODE_ENV}, Node flags ${SERVER_NODE_ARGS.join(' ') || '(none)'}`,
  );
  const db = await benchDatabase(log);
  database = db;
  const databaseUrl = db.url;

  // Ours first: bench/server.ts migrates the database.
  const serverEnv = { BENCH_DATABASE_URL: databaseUrl, NODE_ENV: SERVER_NODE_ENV };
  const ours = new Child(
    'read-api',
    'server.ts',
    { ...serverEnv, BENCH_PUBSUB: 'postgres', ...(PROFILE_DIR ? { BENCH_PROFILE: PROFILE_DIR } : {}) },
    SERVER_NODE_ARGS,
  );
  children.push(ours);
  const oursUrl = (await ours.waitFor((m) => m.type === 'ready', 60_000, 'ready')).url as string;
  admin = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const seeded = await seed(admin, { listeners: LISTENERS, backgroundSpaces: BACKGROUND });
  log(`seeded: a live space with ${seeded.onStage} on stage and ${seeded.listeners} listeners (the viewer among them), ${BACKGROUND} other live spaces`);

  // PostGraphile reads the tables as they are at its start: after the migration.
  // Only the systems measured are started (ours always: it migrates and its answer is the reference).
  const raw = new Child('read-raw', 'read/raw-server.ts', serverEnv, SERVER_NODE_ARGS);
  const peer = SYSTEMS.includes('postgraphile') ? new Child('read-postgraphile', 'read/postgraphile-server.ts', serverEnv, SERVER_NODE_ARGS) : null;
  children.push(raw, ...(peer ? [peer] : []));
  const [rawUrl, peerUrl] = await Promise.all(
    [raw, peer].map(async (c) => (c ? ((await c.waitFor((m) => m.type === 'ready', 90_000, 'ready')).url as string) : '')),
  );
  const servers: Record<SystemName, Child | null> = { ours, raw, postgraphile: peer };

  const spaceGlobalId = Buffer.from(`Space:${seeded.spaceId}`).toString('base64url');
  const oursBody = Buffer.from(JSON.stringify({ operationName: 'SpaceRoom', query: OURS_QUERY, variables: { id: spaceGlobalId } }));
  const bearer = { authorization: `Bearer ${seeded.viewerToken}` };
  const targets: Record<SystemName, Target> = {
    ours: { name: LABEL.ours, baseUrl: oursUrl, path: '/graphql', headers: bearer, body: oursBody, expectedBytes: 0 },
    raw: { name: LABEL.raw, baseUrl: rawUrl!, path: '/graphql', headers: bearer, body: oursBody, expectedBytes: 0 },
    postgraphile: {
      name: LABEL.postgraphile,
      baseUrl: peerUrl!,
      path: '/graphql',
      headers: {},
      body: Buffer.from(
        JSON.stringify({
          operationName: 'SpaceRoom',
          query: POSTGRAPHILE_QUERY,
          variables: { spaceId: seeded.spaceId, viewerId: seeded.viewerId },
        }),
      ),
      expectedBytes: 0,
    },
  };

  // The same data three ways, or nothing is measured.
  const answers = {
    ours: await post(targets.ours),
    raw: await post(targets.raw),
    postgraphile: peer ? await post(targets.postgraphile) : null,
  };
  const facts = {
    ours: factsOfOurs(answers.ours.body),
    raw: factsOfOurs(answers.raw.body),
    postgraphile: answers.postgraphile ? factsOfPostGraphile(answers.postgraphile.body) : null,
  };
  const expected = { stage: seeded.onStage, listenerCount: seeded.listeners, participantCount: seeded.onStage + seeded.listeners };
  const got = { stage: facts.ours.stage.length, listenerCount: facts.ours.listenerCount, participantCount: facts.ours.participantCount };
  const wrongSeed = firstDifference(got, expected);
  if (wrongSeed) throw new Error(`our answer does not match the seeded data: ${wrongSeed}`);
  if (facts.ours.audience.length !== 50 || !facts.ours.audienceHasNextPage || !facts.ours.viewerParticipant)
    throw new Error('our answer lacks a full first page of listeners, a next page or the viewer participant');
  for (const other of ['raw', 'postgraphile'] as const) {
    if (!facts[other]) continue;
    const difference = firstDifference(facts.ours, facts[other]);
    if (difference) throw new Error(`${LABEL[other]} answers other data than ours: ${difference}`);
  }
  if (answers.raw.text !== answers.ours.text) notes.push('raw answer: same data as ours, but not the same bytes');
  for (const s of SYSTEMS) targets[s].expectedBytes = Buffer.byteLength(answers[s]!.text);
  log(
    `answers agree: ${facts.ours.stage.length} on stage, ${facts.ours.audience.length} of ${facts.ours.listenerCount} listeners, ` +
      `${facts.ours.participantCount} participants; ${SYSTEMS.map((s) => `${LABEL[s]} ${targets[s].expectedBytes} B`).join(', ')}` +
      (answers.raw.text === answers.ours.text ? ' (raw = ours, byte for byte)' : ''),
  );

  const stats = (system: SystemName) =>
    servers[system]!.request({ cmd: 'stats' }, (m) => m.type === 'stats', 10_000, 'stats') as unknown as Promise<Stats>;

  // Warm-up of each system (JIT, pools, caches) before the first measured round.
  for (const s of SYSTEMS) await runWindow(targets[s], 16, 2_000, 0, () => stats(s));

  const windows = new Map<string, { window: Window; cpuUs: number; queries: number }[]>();
  const roundMs = (WARMUP_MS + SECONDS * 1000) * SYSTEMS.length + 1_000;
  for (const concurrency of CONCURRENCY) {
    for (let round = 1; round <= ROUNDS; round++) {
      if (remaining() < roundMs + 20_000) {
        notes.push(`concurrency ${concurrency}: round ${round} and later skipped (time budget)`);
        break;
      }
      for (const system of SYSTEMS) {
        const profiling = PROFILE_DIR !== null && system === 'ours';
        if (profiling) await ours.request({ cmd: 'profile-start' }, (m) => m.type === 'profiling', 10_000, 'profiling');
        const { window, before, after } = await runWindow(targets[system], concurrency, WARMUP_MS, SECONDS * 1000, () => stats(system));
        if (profiling) {
          const name = `read-ours-c${concurrency}-r${round}`;
          const { file } = await ours.request({ cmd: 'profile-stop', name }, (m) => m.type === 'profiled', 60_000, 'profiled');
          log(`our server's CPU profile (warm-up and measured window): ${file}`);
        }
        const key = `${system}@${concurrency}`;
        const entry = {
          window,
          cpuUs: after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs,
          queries: after.queries - before.queries,
        };
        windows.set(key, [...(windows.get(key) ?? []), entry]);
        log(
          `c=${concurrency} round ${round} ${LABEL[system]}: ${(window.completed / window.seconds).toFixed(0)} req/s, ` +
            `p50 ${fmt(percentile(window.latenciesMs, 50))} ms, p99 ${fmt(percentile(window.latenciesMs, 99))} ms, ` +
            `${fmt(entry.cpuUs / 1000 / Math.max(1, window.completed), 2)} CPU ms/req` +
            (window.errors ? `, ${window.errors} errors (${window.firstError})` : ''),
        );
      }
    }
    for (const system of SYSTEMS) {
      const rounds = windows.get(`${system}@${concurrency}`) ?? [];
      if (rounds.length === 0) continue;
      const completed = rounds.reduce((s, r) => s + r.window.completed, 0);
      const seconds = rounds.reduce((s, r) => s + r.window.seconds, 0);
      const latencies = rounds.flatMap((r) => r.window.latenciesMs);
      results.push({
        system,
        concurrency,
        rounds: rounds.map((r) => r.window.completed / r.window.seconds),
        completed,
        seconds,
        reqPerSecond: completed / seconds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        bytes: targets[system].expectedBytes,
        cpuMsPerRequest: rounds.reduce((s, r) => s + r.cpuUs, 0) / 1000 / Math.max(1, completed),
        queriesPerRequest: rounds.reduce((s, r) => s + r.queries, 0) / Math.max(1, completed),
        errors: rounds.reduce((s, r) => s + r.window.errors, 0),
        firstError: rounds.find((r) => r.window.firstError)?.window.firstError ?? null,
      });
    }
  }
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));
const thousands = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const ratio = (a: Result | undefined, b: Result | undefined) => (a && b ? `${(a.reqPerSecond / b.reqPerSecond).toFixed(2)}x` : '—');

let reported = false;
function printReport(partial = false) {
  if (reported) return;
  reported = true;
  const lines = [
    '',
    `Read: opening a space (viewer, space, host, stage with users, viewer's participant, counts, first 50 listeners), ` +
      `${ROUNDS} alternating round(s) of ${SECONDS} s per system and concurrency; same PostgreSQL and data; pools of 10; ` +
      `load from this process over keep-alive HTTP; servers' NODE_ENV ${SERVER_NODE_ENV}, Node flags ${SERVER_NODE_ARGS.join(' ') || '(none)'}; 127.0.0.1.` +
      (partial ? ' PARTIAL.' : ''),
    '',
  ];
  const header = [
    'conc'.padStart(5),
    'system'.padEnd(20),
    'req/s'.padStart(8),
    'rounds'.padEnd(18),
    'p50 ms'.padStart(8),
    'p99 ms'.padStart(8),
    'bytes'.padStart(7),
    'CPU ms/req'.padStart(11),
    'SQL/req'.padStart(8),
    'errors'.padStart(7),
  ].join(' ');
  lines.push(header, '-'.repeat(header.length));
  for (const r of results)
    lines.push(
      [
        String(r.concurrency).padStart(5),
        LABEL[r.system].padEnd(20),
        fmt(r.reqPerSecond, 0).padStart(8),
        r.rounds.map((x) => x.toFixed(0)).join('/').padEnd(18),
        fmt(r.p50).padStart(8),
        fmt(r.p99).padStart(8),
        String(r.bytes).padStart(7),
        fmt(r.cpuMsPerRequest, 2).padStart(11),
        fmt(r.queriesPerRequest, 1).padStart(8),
        String(r.errors).padStart(7),
      ].join(' '),
    );
  lines.push(
    'req/s: answers completed per second over all rounds (rounds: each round). p50/p99: latency of one request (ms). bytes: the answer body. ' +
      'CPU ms/req: Node CPU (user + system) of the server process per answer. SQL/req: statements the server sent to PostgreSQL per answer.',
    '',
    `| concurrency | ${LABEL.ours} req/s | ${LABEL.postgraphile} | ${LABEL.raw} | ours / raw | ours / PostGraphile |`,
    '|---|---|---|---|---|---|',
  );
  for (const concurrency of CONCURRENCY) {
    const of = (s: SystemName) => results.find((r) => r.system === s && r.concurrency === concurrency);
    const cell = (r: Result | undefined) => (r ? `${thousands(r.reqPerSecond)} (p99 ${fmt(r.p99, 0)} ms)` : '—');
    if (!of('ours') && !of('raw') && !of('postgraphile')) continue;
    lines.push(`| ${concurrency} | ${cell(of('ours'))} | ${cell(of('postgraphile'))} | ${cell(of('raw'))} | ${ratio(of('ours'), of('raw'))} | ${ratio(of('ours'), of('postgraphile'))} |`);
  }
  const cpu = (s: SystemName) => {
    const rs = results.filter((r) => r.system === s);
    return rs.length ? `${fmt(Math.min(...rs.map((r) => r.cpuMsPerRequest)), 2)}–${fmt(Math.max(...rs.map((r) => r.cpuMsPerRequest)), 2)} ms` : '—';
  };
  lines.push('', `Node CPU per request: ours ${cpu('ours')}, PostGraphile ${cpu('postgraphile')}, raw ${cpu('raw')}.`);
  lines.push('Targets (issue 13): ours ≥ 0.5x raw and ≥ 1x PostGraphile at every concurrency.');
  for (const note of notes) lines.push(`Note: ${note}`);
  for (const r of results) if (r.errors) lines.push(`Errors, ${LABEL[r.system]} at ${r.concurrency}: ${r.errors} (first: ${r.firstError})`);
  console.log(lines.join('\n'));
  if (env.BENCH_READ_JSON)
    writeFileSync(env.BENCH_READ_JSON, JSON.stringify({ config: { CONCURRENCY, SECONDS, ROUNDS, WARMUP_MS, LISTENERS, BACKGROUND }, results, notes }, null, 2));
}

await bound.run(main, printReport);
