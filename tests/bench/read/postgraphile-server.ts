/**
 * The peer of the read benchmark (bench/read.ts): PostGraphile 4.14 serving the Spaces tables
 * (schema `public`, as migrated) at /graphql, in its recommended production settings (no
 * GraphiQL, no watch, no query log), on a node-postgres pool as large as the API's. It does no
 * authentication: the benchmark passes the viewer's id as a variable.
 * IPC: → { type: 'ready', url }; ← { cmd: 'stats' } → { type: 'stats', queries, cpuUserUs, cpuSystemUs };
 * ← { cmd: 'stop' }. Env: BENCH_DATABASE_URL (required), BENCH_DB_POOL (10).
 */
import { createServer } from 'node:http';
import pg from 'pg';
import { postgraphile } from 'postgraphile';
import { serveToBench } from './child.ts';

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error('BENCH_DATABASE_URL is required');

let queries = 0;
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.BENCH_DB_POOL ?? 10), application_name: 'spaces-bench-postgraphile' });
// Counts every statement PostGraphile sends (its transaction statements included).
pool.on('connect', (client) => {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    queries++;
    return query(...args);
  };
});

const handler = postgraphile(pool, 'public', {
  graphqlRoute: '/graphql',
  graphiql: false,
  watchPg: false,
  disableQueryLog: true,
  retryOnInitFail: false,
  disableDefaultMutations: true,
  setofFunctionsContainNulls: false,
  extendedErrors: ['errcode'],
});
await handler.getGraphQLSchema();

const server = createServer((req, res) => void handler(req, res));
await serveToBench(server, { queries: () => queries, closeDatabase: () => pool.end() });
