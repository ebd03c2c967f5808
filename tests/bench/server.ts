/**
 * The Spaces API for the fan-out benchmark, in a process of its own (so the subscribers' client
 * work never shares its event loop). Started by fanout.ts with an IPC channel:
 *   → parent  { type: 'ready', url }
 *   ← parent  { cmd: 'stats', gc? } → { type: 'stats', queries, cpuUserUs, cpuSystemUs, rssMb, heapUsedMb, sockets }
 *   ← parent  { cmd: 'profile-start' } / { cmd: 'profile-stop', name } → { type: 'profiled', file }
 *             (a V8 CPU profile of what lies between, written to BENCH_PROFILE/<name>.cpuprofile)
 *   ← parent  { cmd: 'stop' }   → stops the app and exits
 * Env: BENCH_DATABASE_URL (required), BENCH_PUBSUB (postgres|memory), BENCH_DB_POOL (default 10,
 * as createDb), BENCH_RATE_LIMITS (JSON: more buildApp rateLimits overrides). The database
 * handle is built here, as createDb builds it, only to count the queries the API sends
 * (postgres.js `debug` hook).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { buildApp } from '@spaces/api';
import { migrateWithLock, postgresClientOptions, type Database, type DbHandle } from '@spaces/db';

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error('BENCH_DATABASE_URL is required');
const pubsub = (process.env.BENCH_PUBSUB ?? 'postgres') as 'postgres' | 'memory';

let queries = 0;
await migrateWithLock(url);
// The API's own client options (createDb's), so the API runs as under `pnpm start`.
const sql = postgres(url, {
  ...postgresClientOptions(Number(process.env.BENCH_DB_POOL ?? 10)),
  connection: { application_name: 'spaces-bench' },
});
// Counts the statements sent. Set after creating the client: given as an option, postgres.js
// also captures a stack trace for every query (its debug mode), a cost pnpm start never pays.
(sql.options as { debug?: unknown }).debug = () => {
  queries++;
};
const database: DbHandle = {
  db: drizzle({ client: sql }) as unknown as Database,
  kind: 'postgres',
  sql,
  close: () => sql.end({ timeout: 5 }),
};

const app = await buildApp({
  database,
  serveWeb: false,
  port: 0,
  host: '127.0.0.1',
  pubsub,
  // Every subscriber connects from 127.0.0.1.
  maxSocketsPerClient: 1_000_000,
  // Bench participants are mostly HTTP-only (no spaceEvents subscription): none leaves for going unseen during a run.
  presenceGraceMs: 3_600_000,
  rateLimits: {
    signInPerMinutePerClient: 1e6,
    signInPerMinutePerHandle: 1e6,
    signUpPerHourPerClient: 1e6,
    // More overrides (JSON), for limits a benchmark must not run into (bench/bar.ts: follow toggles).
    ...(JSON.parse(process.env.BENCH_RATE_LIMITS ?? '{}') as Record<string, number>),
  },
});
const baseUrl = await app.start();

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(code), 10_000);
  force.unref();
  try {
    await app.stop();
    await database.close();
  } catch (error) {
    console.error('[bench server] stop failed', error);
  }
  process.exit(code);
}

let inspector: Session | null = null;
async function profile(cmd: 'profile-start' | 'profile-stop', name = 'api') {
  if (cmd === 'profile-start') {
    inspector = new Session();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
    await inspector.post('Profiler.start');
    process.send?.({ type: 'profiling' });
    return;
  }
  if (!inspector) return process.send?.({ type: 'profiled', file: null });
  const { profile } = await inspector.post('Profiler.stop');
  inspector.disconnect();
  inspector = null;
  const dir = process.env.BENCH_PROFILE ?? '.';
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  process.send?.({ type: 'profiled', file });
}

process.on('message', (message: { cmd: string; name?: string }) => {
  if (message.cmd === 'profile-start' || message.cmd === 'profile-stop') {
    void profile(message.cmd, message.name);
  } else if (message.cmd === 'stats') {
    // With { gc: true } (and --expose-gc), heapUsedMb is the live heap, not garbage to come.
    if ((message as { gc?: boolean }).gc) (globalThis as { gc?: () => void }).gc?.();
    const cpu = process.cpuUsage();
    app.server.getConnections((_error, sockets) => {
      process.send?.({
        type: 'stats',
        queries,
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        rssMb: Math.round(process.memoryUsage().rss / 1e6),
        heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1e6),
        sockets,
      });
    });
  } else if (message.cmd === 'stop') {
    void stop(0);
  }
});
// The parent went away: do not linger.
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));

process.send?.({ type: 'ready', url: baseUrl });
