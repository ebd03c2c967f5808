/**
 * Trusted documents benchmark (`pnpm bench`, or `cd tests && pnpm exec tsx bench/trusted-documents.ts`):
 * what the PWA saves by sending the sha256 of its operations instead of the documents (issue 13).
 *
 * 1. Request bytes, for every operation of the PWA's manifest (api/trusted-documents/spaces-web.json):
 *    the JSON body urql POSTs with the full document ({operationName, query, variables}) against the
 *    one with the hash ({operationName, variables, extensions.persistedQuery}); subscriptions as the
 *    graphql-ws `subscribe` message. Variables are the same both ways, so they are left empty.
 * 2. Parse + validate, per document, through the app's own envelop (yoga.getEnveloped: graphql-js
 *    with graphql-armor's token limit while parsing and its depth/alias/cost rules while validating),
 *    of the document's text with a unique comment: what the API does for a document it has not
 *    seen (or has evicted from yoga's parse cache). A trusted document is parsed once at start and
 *    validated once (yoga caches validation by document), so per request it costs a Map lookup.
 * 3. End to end through the real app (buildApp, in process: yoga.fetch, PostgreSQL in a throwaway
 *    cluster or BENCH_DATABASE_URL / TEST_DATABASE_URL), three ways in alternating rounds:
 *      hash        the PWA: graphql-client-name spaces-web, the hash only;
 *      full        a third party sending the same document again (yoga's parse and validation caches hit);
 *      full-new    a document the server has not seen (the same text with a unique comment): parse,
 *                  validation and the cost limit each time.
 *    (full-new measured after the other two) for Viewer signed out (no database work) and SpaceRoom (opening a space: the space, its host,
 *    stage and listeners from the database), BENCH_TD_REQUESTS (500) sequential requests per way
 *    and round, BENCH_TD_ROUNDS (9) rounds; µs per request (median of the rounds).
 *
 * Runs with NODE_ENV=production (as `pnpm start` runs the API) unless NODE_ENV is set.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { App } from '@spaces/api';
import { benchDatabase } from './database.ts';

process.env.NODE_ENV ??= 'production';
const log = (...args: unknown[]) => console.log(...args);

interface Operation {
  id: string;
  name: string;
  type: string;
  body: string;
}
const manifest = JSON.parse(readFileSync(new URL('../../api/trusted-documents/spaces-web.json', import.meta.url), 'utf8')) as {
  operations: Operation[];
};
const MAIN = ['Viewer', 'SpaceRoom', 'LiveSpaces', 'SpacesBar', 'JoinSpace', 'Profile', 'Notifications', 'SpaceEvents', 'SpacesBarUpdates'];
const persisted = (id: string) => ({ persistedQuery: { version: 1, sha256Hash: id } });
const requests = Number(process.env.BENCH_TD_REQUESTS ?? 500);
const rounds = Number(process.env.BENCH_TD_ROUNDS ?? 9);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const pad = (value: string | number, width: number) => String(value).padStart(width);

function bytes() {
  const sizes = manifest.operations.map((o) => {
    const full = { operationName: o.name, query: o.body, variables: {} };
    const hash = { operationName: o.name, variables: {}, extensions: persisted(o.id) };
    const wrap = (payload: object) =>
      o.type === 'subscription' ? { id: '9fd6ea2c-2a1e-4bd6-9f0d-1f0c0a3c1b2d', type: 'subscribe', payload } : payload;
    return { ...o, full: Buffer.byteLength(JSON.stringify(wrap(full))), hash: Buffer.byteLength(JSON.stringify(wrap(hash))) };
  });
  log(`\n1. Request bytes (HTTP POST body; subscriptions: the graphql-ws subscribe message), ${sizes.length} operations`);
  log(`${'operation'.padEnd(22)} ${pad('full', 7)} ${pad('hash', 7)} ${pad('saved', 7)}`);
  for (const name of MAIN) {
    const s = sizes.find((x) => x.name === name);
    if (s) log(`${`${s.name} (${s.type[0]})`.padEnd(22)} ${pad(s.full, 7)} ${pad(s.hash, 7)} ${pad(`${Math.round((1 - s.hash / s.full) * 100)}%`, 7)}`);
  }
  const full = sizes.reduce((n, s) => n + s.full, 0);
  const hash = sizes.reduce((n, s) => n + s.hash, 0);
  log(`${'all (sum)'.padEnd(22)} ${pad(full, 7)} ${pad(hash, 7)} ${pad(`${Math.round((1 - hash / full) * 100)}%`, 7)}`);
  log(`(each request also carries graphql-client-name: spaces-web and graphql-client-version: <build>, ~60 header bytes)`);
}

async function parseAndValidate(app: App) {
  const { parse } = await import('graphql');
  const iterations = 30;
  let unique = 0;
  const rows = manifest.operations.map((o) => {
    const enveloped = app.yoga.getEnveloped({} as never);
    const fresh = () => enveloped.parse(`${o.body}\n# parse ${unique++}`);
    // Warm up, then time parse and validate of a document not seen before each time.
    for (let i = 0; i < 5; i++) enveloped.validate(enveloped.schema, fresh());
    let parseMs = 0;
    let validateMs = 0;
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      const document = fresh();
      const t1 = performance.now();
      const errors = enveloped.validate(enveloped.schema, document);
      const t2 = performance.now();
      if (errors.length > 0) throw new Error(`${o.name} does not validate: ${errors[0]?.message}`);
      parseMs += t1 - t0;
      validateMs += t2 - t1;
    }
    return { name: o.name, parse: (parseMs / iterations) * 1000, validate: (validateMs / iterations) * 1000 };
  });
  const documents = new Map(manifest.operations.map((o) => [o.id, parse(o.body)]));
  const ids = manifest.operations.map((o) => o.id);
  let found = 0;
  const t0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) if (documents.get(ids[i % ids.length]!)) found++;
  const lookupUs = ((performance.now() - t0) / found) * 1000;

  log(`\n2. Parse + validate of a document not seen before (the app's envelop: graphql-js and graphql-armor), µs`);
  log(`${'operation'.padEnd(22)} ${pad('parse', 8)} ${pad('validate', 8)} ${pad('total', 8)}`);
  for (const name of MAIN) {
    const r = rows.find((x) => x.name === name);
    if (r) log(`${r.name.padEnd(22)} ${pad(r.parse.toFixed(1), 8)} ${pad(r.validate.toFixed(1), 8)} ${pad((r.parse + r.validate).toFixed(1), 8)}`);
  }
  const sum = rows.reduce((n, r) => n + r.parse + r.validate, 0);
  log(`all ${rows.length}: ${sum.toFixed(0)} µs together, ${(sum / rows.length).toFixed(1)} µs per document on average; a trusted document instead: a lookup of ${lookupUs.toFixed(3)} µs`);
}

async function endToEnd(app: App) {
  {
    const call = async (body: object, headers: Record<string, string> = {}) => {
      const response = await app.yoga.fetch('http://spaces.bench/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      const result = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      return result.data!;
    };
    const { signUp } = await call({
      query: 'mutation($input: SignUpInput!) { signUp(input: $input) { token } }',
      variables: { input: { handle: 'benchhost', displayName: 'Bench host', password: 'correct horse battery' } },
    });
    const auth = { authorization: `Bearer ${signUp.token}` };
    const { createSpace } = await call(
      { query: 'mutation { createSpace(input: { title: "Bench", speakerPolicy: EVERYONE }) { id } }' },
      auth,
    );
    const cases = [
      { operation: manifest.operations.find((o) => o.name === 'Viewer')!, variables: {} },
      { operation: manifest.operations.find((o) => o.name === 'SpaceRoom')!, variables: { id: createSpace.id } },
    ];
    log(`\n3. End to end through the app (yoga.fetch in process, signed out), µs per request, median of ${rounds} rounds of ${requests}`);
    log(`${'operation'.padEnd(12)} ${pad('hash', 8)} ${pad('full', 8)} ${pad('full-new', 9)}   saved vs full / vs full-new`);
    for (const { operation, variables } of cases) {
      let unique = 0;
      const ways = {
        hash: () => call({ operationName: operation.name, variables, extensions: persisted(operation.id) }, { 'graphql-client-name': 'spaces-web' }),
        full: () => call({ operationName: operation.name, variables, query: operation.body }),
        'full-new': () => call({ operationName: operation.name, variables, query: `${operation.body}\n# ${unique++}` }),
      };
      const times: Record<string, number[]> = { hash: [], full: [], 'full-new': [] };
      for (const run of Object.values(ways)) for (let i = 0; i < 200; i++) await run();
      const measure = async (way: keyof typeof ways) => {
        const t0 = performance.now();
        for (let i = 0; i < requests; i++) await ways[way]();
        times[way]!.push(((performance.now() - t0) / requests) * 1000);
      };
      // hash and full alternate (ABBA, so that neither always follows the other); full-new comes
      // after them all: its garbage and the parse cache entries it evicts would land on the next way.
      for (let round = 0; round < rounds; round++)
        for (const way of round % 2 === 0 ? (['hash', 'full'] as const) : (['full', 'hash'] as const)) await measure(way);
      for (let round = 0; round < rounds; round++) await measure('full-new');
      const [hash, full, fresh] = [median(times.hash!), median(times.full!), median(times['full-new']!)];
      log(
        `${operation.name.padEnd(12)} ${pad(hash.toFixed(0), 8)} ${pad(full.toFixed(0), 8)} ${pad(fresh.toFixed(0), 9)}   ${(full - hash).toFixed(0)} µs (${Math.round((1 - hash / full) * 100)}%) / ${(fresh - hash).toFixed(0)} µs (${Math.round((1 - hash / fresh) * 100)}%)`,
      );
    }
  }
}

bytes();
const { buildApp } = await import('@spaces/api');
const db = await benchDatabase(log);
const app = await buildApp({ databaseUrl: db.url, serveWeb: false, port: 0, host: '127.0.0.1', mixers: [] });
try {
  await parseAndValidate(app);
  await endToEnd(app);
} finally {
  await app.stop();
  await db.release();
}
process.exit(0);
