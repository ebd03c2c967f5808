/**
 * Soak benchmark (`pnpm bench`, or `cd tests && npx tsx bench/soak.ts`): the soak of
 * src/faults/soak.test.ts for longer. One API instance (a child process), one private Janus and
 * a throwaway PostgreSQL cluster (or a temporary database in BENCH_DATABASE_URL /
 * TEST_DATABASE_URL); ten operations a second of every kind (joins, leaves, reactions, raised
 * hands, role changes, mutes, plain-RTP audio reconnects and hang-ups) and subscriber sockets
 * replaced every 3 s. Prints the least-squares slope per minute, after the warm-up, of the API's
 * heap (after a full GC), RSS, active handles and open fds and of Janus's RSS and open fds, beside
 * the bounds the suite asserts; then the handles and fds after the load quieted, beside before.
 *
 * BENCH_SOAK_SECONDS (300) of load, BENCH_SOAK_WARMUP_SECONDS (60) left out of the slopes,
 * BENCH_SOAK_SAMPLE_MS (5000), BENCH_SOAK_SEED (1), BENCH_SOAK_VERBOSE=1 logs every sample,
 * BENCH_SOAK_JSON=<file> writes the figures as JSON, BENCH_SOAK_SNAPSHOTS=<folder> writes API heap
 * snapshots at the end of the warm-up and of the load (to compare in Chrome's DevTools). Bounded by BENCH_SOAK_TIMEOUT_MS (load + 180 s);
 * everything is cleaned up on success, error, timeout and SIGINT/SIGTERM (the API child exits with
 * this process, Janus is killed on exit).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import postgres from 'postgres';
import { migrateWithLock } from '@spaces/db';
import { startCluster, type Cluster } from '../src/support/postgres-cluster.ts';
import { runSoak, type SoakResult } from '../src/faults/soak.ts';
import { boundRun } from './bounds.ts';

const env = process.env;
const LOAD_MS = Number(env.BENCH_SOAK_SECONDS ?? 300) * 1000;
const WARMUP_MS = Number(env.BENCH_SOAK_WARMUP_SECONDS ?? 60) * 1000;
const SAMPLE_MS = Number(env.BENCH_SOAK_SAMPLE_MS ?? 5_000);
const TIMEOUT_MS = Number(env.BENCH_SOAK_TIMEOUT_MS ?? LOAD_MS + 180_000);
/** What src/faults/soak.test.ts asserts over its minute, per minute. */
const SUITE_BOUNDS: Record<string, number> = { apiHeapMb: 4, apiRssMb: 15, janusRssMb: 8 };

const startedAt = performance.now();
const log = (...args: unknown[]) => console.error(`[soak ${((performance.now() - startedAt) / 1000).toFixed(1)}s]`, ...args);

let cluster: Cluster | undefined;
let dropDatabase: (() => Promise<void>) | undefined;

async function cleanup() {
  await dropDatabase?.().catch((e) => log('drop database failed:', e));
  await cluster?.stop().catch((e) => log('stopping PostgreSQL failed:', e));
}

const bound = boundRun({ timeoutMs: TIMEOUT_MS, cleanup, log, onTimeout: () => log('no figures: the soak did not finish in time') });

async function openDatabase(): Promise<string> {
  const serverUrl = env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL;
  if (!serverUrl) {
    cluster = await startCluster();
    await migrateWithLock(cluster.url);
    return cluster.url;
  }
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  const name = `bench_${randomBytes(5).toString('hex')}`;
  await admin.unsafe(`create database ${name}`);
  dropDatabase = async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  };
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await migrateWithLock(url.toString());
  return url.toString();
}

function report(result: SoakResult) {
  const rows = [
    ['API heap after GC', 'apiHeapMb', 'MB'],
    ['API RSS', 'apiRssMb', 'MB'],
    ['API external', 'apiExternalMb', 'MB'],
    ['API active handles', 'apiHandles', ''],
    ['API open fds', 'apiFds', ''],
    ['Janus RSS', 'janusRssMb', 'MB'],
    ['Janus open fds', 'janusFds', ''],
  ] as const;
  const out: string[] = [];
  out.push(`Soak: ${(LOAD_MS / 60_000).toFixed(1)} min of load, slopes over the last ${result.measuredMinutes.toFixed(1)} min (after ${WARMUP_MS / 1000} s of warm-up), ${result.samples.length} samples`);
  out.push('');
  out.push('| figure | mean | slope per minute | suite bound per minute |');
  out.push('| --- | --- | --- | --- |');
  for (const [label, key, unit] of rows)
    out.push(`| ${label} | ${result.means[key]!.toFixed(1)} ${unit} | ${result.slopes[key]! >= 0 ? '+' : ''}${result.slopes[key]!.toFixed(2)} ${unit} | ${SUITE_BOUNDS[key] !== undefined ? `< ${SUITE_BOUNDS[key]} ${unit}` : '—'} |`);
  out.push('');
  const { before, after } = result.quiet;
  out.push('| quiet (host only) | before the load | after it |');
  out.push('| --- | --- | --- |');
  out.push(`| API active handles | ${before.apiHandles} | ${after.apiHandles} |`);
  out.push(`| API open fds | ${before.apiFds} | ${after.apiFds} |`);
  out.push(`| API heap after GC | ${before.apiHeapMb.toFixed(1)} MB | ${after.apiHeapMb.toFixed(1)} MB |`);
  out.push(`| Janus open fds | ${before.janusFds} | ${after.janusFds} |`);
  out.push(`| Janus RSS | ${before.janusRssMb.toFixed(1)} MB | ${after.janusRssMb.toFixed(1)} MB |`);
  out.push(`| participants in the room | ${before.roomParticipants} | ${after.roomParticipants} |`);
  out.push('');
  const total = Object.values(result.operations).reduce((s, o) => s + Object.values(o).reduce((a, b) => a + b, 0), 0);
  out.push(`Operations: ${total} (${(total / (LOAD_MS / 1000)).toFixed(1)}/s) ${JSON.stringify(result.operations)}`);
  out.push(`Events delivered to subscribers: ${result.events}; subscriber errors: ${result.subscriberErrors}; sockets closed by the server: ${JSON.stringify(result.subscriberCloses)}; failures: ${result.failures.length}; no answer within 10 s: ${result.timeouts}`);
  for (const f of result.failures.slice(0, 10)) out.push(`  failure: ${f}`);
  console.log(out.join('\n'));
}

try {
  const databaseUrl = await openDatabase();
  log(`load ${LOAD_MS / 1000} s, warm-up ${WARMUP_MS / 1000} s, a sample every ${SAMPLE_MS} ms`);
  const result = await runSoak({
    databaseUrl,
    durationMs: LOAD_MS,
    warmupMs: WARMUP_MS,
    sampleMs: SAMPLE_MS,
    seed: Number(env.BENCH_SOAK_SEED ?? 1),
    log: env.BENCH_SOAK_VERBOSE === '1' ? log : undefined,
    heapSnapshots: env.BENCH_SOAK_SNAPSHOTS,
  });
  report(result);
  if (env.BENCH_SOAK_JSON) writeFileSync(env.BENCH_SOAK_JSON, JSON.stringify({ ...result, samples: result.samples }, null, 2));
  bound.finish();
  await cleanup();
  process.exit(0);
} catch (error) {
  log('failed:', error);
  bound.finish();
  await cleanup();
  process.exit(1);
}
