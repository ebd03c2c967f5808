import { randomBytes } from 'node:crypto';
import { env } from 'node:process';
import postgres from 'postgres';
import { startCluster } from '../src/support/postgres-cluster.ts';

/**
 * Where a benchmark keeps its data: a temporary database in BENCH_DATABASE_URL /
 * TEST_DATABASE_URL when one is set (dropped by `release`), else a throwaway PostgreSQL cluster
 * of its own (stopped by `release`). `release` never throws; failures are logged.
 */
export async function benchDatabase(log: (...args: unknown[]) => void): Promise<{ url: string; release(): Promise<void> }> {
  const server = env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL;
  if (server) {
    const root = postgres(server, { max: 1, onnotice: () => {} });
    const name = `bench_${randomBytes(5).toString('hex')}`;
    await root.unsafe(`create database ${name}`);
    const url = new URL(server);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      release: async () => {
        await root
          .unsafe(`drop database if exists ${name} with (force)`)
          .then(() => root.end())
          .catch((e) => log('drop database failed', e));
      },
    };
  }
  const cluster = await startCluster();
  return { url: cluster.url, release: () => cluster.stop().catch((e) => log('stopping PostgreSQL failed', e)) };
}

/** The p-th percentile (nearest rank) of unsorted values; NaN for none. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}
