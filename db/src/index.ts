import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { PgAsyncDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

export * as schema from './schema.ts';
export * from './schema.ts';

export type Database = PgAsyncDatabase<PgQueryResultHKT>;

export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

/** `.data/pglite` at the repository root, wherever the process was started from. */
const defaultDataDir = fileURLToPath(new URL('../../.data/pglite', import.meta.url));

/** Any constant works; it only has to be the same for every instance of Spaces. */
const MIGRATION_LOCK_KEY = 727_001;

export interface DbHandle {
  db: Database;
  kind: 'postgres' | 'pglite';
  /** The raw postgres.js client (PostgreSQL only): used for LISTEN/NOTIFY. */
  sql?: postgres.Sql;
  /** The connection URL (PostgreSQL only), for parts that need their own connections. */
  url?: string;
  close(): Promise<void>;
}

export interface CreateDbOptions {
  /** PostgreSQL URL; when absent, an embedded PGlite database in dataDir. */
  url?: string;
  dataDir?: string;
  /** Run migrations before returning (default true). */
  migrate?: boolean;
  maxConnections?: number;
}

/**
 * The postgres.js options of the API's pool (createDb), also used by the benchmarks' servers so
 * they run as `pnpm start` does.
 */
export function postgresClientOptions(maxConnections = 10) {
  return {
    max: maxConnections,
    onnotice: () => {},
    connection: { application_name: 'spaces' },
    // No array-typed parameters are sent (id lists travel as one uuid[] literal, or drizzle
    // expands inArray into one parameter each), so the array-type look-up postgres.js runs on
    // every new connection is not needed; run while PostgreSQL restarts, it failed outside any
    // query as an unhandled rejection.
    fetch_types: false,
    // Seconds before reconnecting after a failed attempt. postgres.js's default grows to 20 s
    // after a few failures (one count for all connections of the client), and its LISTEN
    // connection (the event bus) waits that long after a short PostgreSQL restart: ~4–6 s
    // after 2 s down in tests/src/faults/postgres-restart.test.ts. Capped at 1 s, with jitter.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1) * (0.5 + Math.random() / 2),
  } satisfies postgres.Options<Record<string, postgres.PostgresType>>;
}

/**
 * The one way to open the database. DATABASE_URL set: PostgreSQL through postgres.js.
 * Otherwise embedded PGlite under DATA_DIR (default .data/pglite), so `pnpm start` needs no server.
 */
export async function createDb(options: CreateDbOptions = {}): Promise<DbHandle> {
  const url = options.url ?? process.env.DATABASE_URL;
  const shouldMigrate = options.migrate ?? true;
  if (url) {
    if (shouldMigrate) await migrateWithLock(url);
    const sql = postgres(url, postgresClientOptions(options.maxConnections));
    const db = drizzlePostgres({ client: sql }) as unknown as Database;
    return { db, kind: 'postgres', sql, url, close: () => sql.end({ timeout: 5 }) };
  }
  const dataDir = options.dataDir ?? process.env.DATA_DIR ?? defaultDataDir;
  mkdirSync(dataDir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  // pg_trgm ships with PGlite as an extension to load; the search indexes need it.
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  const { drizzle: drizzlePglite } = await import('drizzle-orm/pglite');
  const { migrate: migratePglite } = await import('drizzle-orm/pglite/migrator');
  const client = await PGlite.create({ dataDir, extensions: { pg_trgm } });
  const pgliteDb = drizzlePglite({ client });
  // PGlite is opened by one process only, so there is nothing to race with here.
  if (shouldMigrate) await migratePglite(pgliteDb, { migrationsFolder });
  return { db: pgliteDb as unknown as Database, kind: 'pglite', close: () => client.close() };
}

/**
 * Migrates on one dedicated connection holding a session advisory lock, so two instances
 * starting together run the migrations once: the second waits, then finds nothing to do.
 */
export async function migrateWithLock(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await migratePostgres(drizzlePostgres({ client: sql }), { migrationsFolder });
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
