import pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { rateLimited } from '../errors.ts';

/**
 * Counters for abuse limits, kept by `rate-limiter-flexible`: in PostgreSQL when the app runs on
 * PostgreSQL, so every API instance counts against the same numbers (a limit of N is N in
 * total, not N per instance); in memory with PGlite (one process by construction).
 *
 * Each limit is a fixed window per key that starts with the key's first hit.
 */

/** `points` hits per `durationSeconds` per key. */
export interface Rule {
  points: number;
  durationSeconds: number;
}

/**
 * The table the PostgreSQL store keeps its counters in. It belongs to rate-limiter-flexible
 * (its own `CREATE TABLE IF NOT EXISTS`, its columns), not to drizzle: db/src/schema.ts has no
 * table of this name, so migrations never touch it. Rows expire by time and are deleted an
 * hour after expiry by whichever instance gets there first.
 */
export const LIMITS_TABLE = 'rate_limits';
/** Advisory lock held while creating the table, so instances starting together don't race. */
const CREATE_LOCK_KEY = 727_002;

/** Node timers (which the memory store uses per key) cannot wait longer than this. */
const MAX_MEMORY_SECONDS = Math.floor(2_147_483_647 / 1000);

/** One limit: count hits per key and refuse past the limit with RATE_LIMITED + retryAfterMs. */
export class Limiter {
  constructor(
    private readonly store: RateLimiterAbstract,
    readonly rule: Rule,
    /** Told of each refusal (metrics). */
    private readonly refused: () => void = () => {},
  ) {}

  /** Counts one hit for key; throws RATE_LIMITED once the window's limit is passed. */
  async hit(key: string): Promise<void> {
    const waitMs = await this.tryHit(key);
    if (waitMs !== null) throw rateLimited(waitMs);
  }

  /** Counts one hit for key: null when it passes, else how long (ms) until one would (outside GraphQL, e.g. HTTP 429). */
  async tryHit(key: string): Promise<number | null> {
    try {
      await this.store.consume(key);
      return null;
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      this.refused();
      return Math.max(error.msBeforeNext, 1);
    }
  }

  /** Whether key has been hit in its current window (for limits used as "remember this for a while"). */
  async seen(key: string): Promise<boolean> {
    return (await this.store.get(key)) !== null;
  }

  /** Marks key as seen for a whole window from now (restarting it). */
  async remember(key: string): Promise<void> {
    // The store's own window: in memory it is capped at what a Node timer can wait.
    await this.store.set(key, 1, this.store.duration);
  }

  async reset(key: string): Promise<void> {
    await this.store.delete(key);
  }
}

export interface LimiterStore {
  readonly kind: 'postgres' | 'memory';
  /** A limiter named `name` (its keys are prefixed with it, so names must be unique). */
  limiter(name: string, rule: Rule): Limiter;
  /** Called with the limiter's name each time one refuses a hit (the app counts them). */
  onRefused: ((name: string) => void) | null;
  close(): Promise<void>;
}

function memoryLimiter(name: string, rule: Rule): RateLimiterMemory {
  return new RateLimiterMemory({
    keyPrefix: name,
    points: rule.points,
    duration: Math.min(rule.durationSeconds, MAX_MEMORY_SECONDS),
  });
}

export function memoryLimiterStore(): LimiterStore {
  const store: LimiterStore = {
    kind: 'memory',
    onRefused: null,
    limiter: (name, rule) => new Limiter(memoryLimiter(name, rule), rule, () => store.onRefused?.(name)),
    close: async () => {},
  };
  return store;
}

/**
 * Counters in PostgreSQL at `url`, through a small `pg` pool of their own (the store speaks
 * `pg`'s API). If PostgreSQL fails mid-request, each limiter falls back to counting in memory
 * (its insurance limiter) rather than failing the request.
 */
export async function postgresLimiterStore(url: string, options: { maxConnections?: number } = {}): Promise<LimiterStore> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 5,
    idleTimeoutMillis: 30_000,
    application_name: 'spaces-limits',
  });
  // An idle client losing its server (PostgreSQL restarted) is reported here, not thrown.
  pool.on('error', (error) => console.error('[limits] PostgreSQL connection lost:', error.message));
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [CREATE_LOCK_KEY]);
    await client.query(
      `create table if not exists "${LIMITS_TABLE}" (key varchar(255) primary key, points integer not null default 0, expire bigint)`,
    );
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  const limiters: RateLimiterPostgres[] = [];
  const self: LimiterStore = {
    kind: 'postgres',
    onRefused: null,
    limiter(name, rule) {
      const store = new RateLimiterPostgres({
        storeClient: pool,
        storeType: 'pool',
        tableName: LIMITS_TABLE,
        tableCreated: true,
        keyPrefix: name,
        points: rule.points,
        duration: rule.durationSeconds,
        // Once a key is over its limit, this instance refuses it from memory until the window
        // ends instead of asking PostgreSQL for every hit of a flood.
        inMemoryBlockOnConsumed: rule.points + 1,
        insuranceLimiter: memoryLimiter(name, rule),
        // Only the first limiter sweeps expired rows (they all share the table).
        clearExpiredByTimeout: limiters.length === 0,
      });
      limiters.push(store);
      return new Limiter(store, rule, () => self.onRefused?.(name));
    },
    async close() {
      for (const l of limiters) {
        const timer = (l as unknown as { _clearExpiredTimeoutId?: NodeJS.Timeout })._clearExpiredTimeoutId;
        if (timer) clearTimeout(timer);
      }
      await pool.end();
    },
  };
  return self;
}
