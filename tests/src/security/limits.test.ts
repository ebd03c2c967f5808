import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { codes, handle, startTestApp, type GqlResult, type TestApp } from '../support/app.ts';
import { must, Q, users, type U } from '../support/spaces.ts';

/**
 * Abuse limits as a hostile client meets them (issue 9, items 1, 2, 3, 12, 13): who the client
 * is, sign-in throttling that cannot lock the owner out, per-user limits on event-producing
 * mutations, WebSockets per client address, and counters shared by every instance.
 *
 * Clients at different addresses are real sockets bound to different loopback addresses
 * (127.0.0.0/8 is all local on Linux).
 */

const PASSWORD = 'correct horse battery';
const SIGN_IN = `mutation($input: SignInInput!) { signIn(input: $input) { token user { id } } }`;
const SIGN_UP = `mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }`;

const apps: { close(): Promise<unknown> }[] = [];
afterAll(async () => {
  for (const app of apps.splice(0).reverse()) await app.close().catch(() => {});
});

/** A test app with the limits' real defaults, except those given, listening on 127.0.0.1. */
async function appWith(options: Parameters<typeof startTestApp>[0] = {}): Promise<{ t: TestApp; url: string }> {
  const t = await startTestApp({ rateLimits: {}, ...options });
  apps.push(t);
  return { t, url: await t.app.start() };
}

/** One GraphQL POST over a real socket from local address `from`. */
function post(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  opts: { from?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<GqlResult> {
  const body = Buffer.from(JSON.stringify({ query, variables }));
  const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(body.length), ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  return new Promise((resolve, reject) => {
    const req = request(`${url}/graphql`, { method: 'POST', headers, localAddress: opts.from ?? '127.0.0.1' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: res.statusCode!, headers: new Headers(), ...JSON.parse(text) });
        } catch {
          reject(new Error(`non-JSON ${res.statusCode}: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const code = (r: GqlResult) => codes(r)[0] ?? 'OK';
const tally = (results: GqlResult[]) =>
  results.reduce<Record<string, number>>((acc, r) => ((acc[code(r)] = (acc[code(r)] ?? 0) + 1), acc), {});

function expectRateLimited(r: GqlResult, maxWaitMs: number) {
  expect(codes(r)).toEqual(['RATE_LIMITED']);
  const wait = r.errors![0]!.extensions!.retryAfterMs as number;
  expect(wait).toBeGreaterThan(0);
  expect(wait).toBeLessThanOrEqual(maxWaitMs);
}

describe('client identity (TRUST_PROXY)', () => {
  it('ignores X-Forwarded-For by default: a new header value does not reset a limit', async () => {
    const { url } = await appWith({ rateLimits: { signUpPerHourPerClient: 3 } });
    const results = [];
    for (let i = 0; i < 5; i++) {
      const input = { handle: handle('xf'), displayName: 'X', password: PASSWORD };
      results.push(await post(url, SIGN_UP, { input }, { from: '127.0.0.2', headers: { 'x-forwarded-for': `198.51.100.${i}` } }));
    }
    expect(results.map(code)).toEqual(['OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
    // Another peer address is another client.
    const other = await post(url, SIGN_UP, { input: { handle: handle('xf'), displayName: 'X', password: PASSWORD } }, { from: '127.0.0.3' });
    expect(code(other)).toBe('OK');
  });

  it('behind trusted proxies, keys on the right-most hop they did not add', async () => {
    const { url } = await appWith({ rateLimits: { signUpPerHourPerClient: 2 }, trustProxy: { addresses: ['127.0.0.0/8'] } });
    const up = (xff: string) =>
      post(url, SIGN_UP, { input: { handle: handle('tp'), displayName: 'T', password: PASSWORD } }, { headers: { 'x-forwarded-for': xff } });
    // The proxy appended 198.51.100.7; whatever the client wrote to its left does not matter.
    expect(code(await up('1.1.1.1, 198.51.100.7'))).toBe('OK');
    expect(code(await up('2.2.2.2, 198.51.100.7'))).toBe('OK');
    expect(code(await up('3.3.3.3, 198.51.100.7'))).toBe('RATE_LIMITED');
    // A different client behind the same proxy has its own budget.
    expect(code(await up('198.51.100.8'))).toBe('OK');
    // IPv6 clients are one client per /64.
    expect(code(await up('2001:db8:5:5::1'))).toBe('OK');
    expect(code(await up('2001:db8:5:5::2'))).toBe('OK');
    expect(code(await up('2001:db8:5:5:ffff::3'))).toBe('RATE_LIMITED');
  });
});

describe('sign-in throttling that cannot lock the owner out', () => {
  let url: string;
  let t: TestApp;
  beforeAll(async () => {
    ({ t, url } = await appWith());
  });

  const signIn = (h: string, password: string, from: string) => post(url, SIGN_IN, { input: { handle: h, password } }, { from });

  it("a flood of wrong passwords from elsewhere neither stops Ada's usual client nor gets through", async () => {
    const ada = handle('ada');
    // Ada signed up and signs in from her usual address.
    expect(code(await post(url, SIGN_UP, { input: { handle: ada, displayName: 'Ada', password: PASSWORD } }, { from: '127.0.0.2' }))).toBe('OK');
    expect(code(await signIn(ada, PASSWORD, '127.0.0.2'))).toBe('OK');

    // An attacker guesses from 8 other addresses, 15 guesses each.
    const attackers = Array.from({ length: 8 }, (_, i) => `127.0.1.${i + 1}`);
    const guesses = await Promise.all(
      attackers.map(async (from) => {
        const mine = [];
        for (let i = 0; i < 15; i++) mine.push(await signIn(ada, `wrong guess ${i}`, from));
        return mine;
      }),
    );
    const all = guesses.flat();
    // Throttled: each address gets at most 10 tries at Ada, and all of them together the
    // per-handle 20; the other 100 are refused before any password is checked.
    expect(tally(all)).toEqual({ UNAUTHENTICATED: 20, RATE_LIMITED: 100 });
    for (const mine of guesses) expect(mine.filter((r) => code(r) === 'UNAUTHENTICATED').length).toBeLessThanOrEqual(10);
    expectRateLimited(all.find((r) => code(r) === 'RATE_LIMITED')!, 60_000);

    // Ada's correct password from her usual client still works, at once.
    const mine = await signIn(ada, PASSWORD, '127.0.0.2');
    expect(mine.errors).toBeUndefined();
    expect(mine.data!.signIn.token).toBeTruthy();
    // A client that never signed in to Ada is slowed down with the attackers (per handle).
    expect(code(await signIn(ada, PASSWORD, '127.0.2.1'))).toBe('RATE_LIMITED');
  });

  it('throttles one guesser per (handle, client) even from a client that knows the account', async () => {
    const bob = handle('bob');
    expect(code(await post(url, SIGN_UP, { input: { handle: bob, displayName: 'Bob', password: PASSWORD } }, { from: '127.0.0.4' }))).toBe('OK');
    const results = [];
    for (let i = 0; i < 11; i++) results.push(await signIn(bob, `wrong ${i}`, '127.0.0.4'));
    expect(results.slice(0, 10).map(code)).toEqual(Array(10).fill('UNAUTHENTICATED'));
    expectRateLimited(results[10]!, 60_000);
    // Other clients of other accounts are not affected.
    const carol = await t.signUp(handle('carol'));
    expect(code(await signIn(carol.handle, PASSWORD, '127.0.0.5'))).toBe('OK');
  });

  it('throttles one client guessing across many handles (credential stuffing)', async () => {
    const handles = Array.from({ length: 35 }, () => handle('cs'));
    const results = [];
    for (const h of handles) results.push(await signIn(h, 'password123', '127.0.3.1'));
    const counts = tally(results);
    expect(counts.UNAUTHENTICATED).toBe(30);
    expect(counts.RATE_LIMITED).toBe(5);
  });
});

describe('per-user limits on mutations that make events', () => {
  let t: TestApp;
  beforeAll(async () => {
    ({ t } = await appWith());
  });

  async function liveSpace(host: U) {
    const { createSpace } = await must(t, Q.create, { input: { title: 'Limits', speakerPolicy: 'EVERYONE' } }, host);
    return createSpace.id as string;
  }

  it('lets a person toggle a hand now and then, and refuses a flood (requestToSpeak)', async () => {
    const [host, fan, other] = await users(t, 3, 'rs');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, fan);
    await must(t, Q.join, { s }, other);
    // A human: raise, lower, raise again.
    for (const r of [true, false, true]) expect(code(await t.gql(Q.raise, { s, r }, { token: fan!.token }))).toBe('OK');
    // A script: 300 toggles at once. Only the rest of the minute's 30 get through.
    const flood = await Promise.all(Array.from({ length: 300 }, (_, i) => t.gql(Q.raise, { s, r: i % 2 === 0 }, { token: fan!.token })));
    expect(tally(flood)).toEqual({ OK: 27, RATE_LIMITED: 273 });
    expectRateLimited(flood.find((r) => code(r) === 'RATE_LIMITED')!, 60_000);
    // Per user: someone else in the space is not held back.
    expect(code(await t.gql(Q.raise, { s, r: true }, { token: other!.token }))).toBe('OK');
  });

  it('limits joinSpace and leaveSpace together', async () => {
    const [host, fan] = await users(t, 2, 'jl');
    const s = await liveSpace(host!);
    const results = [];
    for (let i = 0; i < 31; i++) {
      results.push(await t.gql(Q.join, { s }, { token: fan!.token }));
      results.push(await t.gql(Q.leave, { s }, { token: fan!.token }));
    }
    expect(results.slice(0, 60).every((r) => code(r) === 'OK')).toBe(true);
    expectRateLimited(results[60]!, 60_000);
    expectRateLimited(results[61]!, 60_000);
  });

  it('limits follow and unfollow together', async () => {
    const [fan, star, other] = await users(t, 3, 'fo');
    const results = [];
    for (let i = 0; i < 31; i++) {
      results.push(await t.gql(Q.follow, { u: star!.id }, { token: fan!.token }));
      results.push(await t.gql(Q.unfollow, { u: star!.id }, { token: fan!.token }));
    }
    expect(results.slice(0, 60).every((r) => code(r) === 'OK')).toBe(true);
    expectRateLimited(results[60]!, 60_000);
    expect(code(await t.gql(Q.follow, { u: star!.id }, { token: other!.token }))).toBe('OK');
  });

  it('still limits reactions per user and space', async () => {
    const [host, fan] = await users(t, 2, 'rx');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, fan);
    const results = await Promise.all(Array.from({ length: 15 }, () => t.gql(Q.react, { s, e: '🔥' }, { token: fan!.token })));
    expect(tally(results)).toEqual({ OK: 10, RATE_LIMITED: 5 });
  });
});

describe('WebSockets per client address', () => {
  /** Resolves with the open socket, or rejects with the HTTP status of a refused upgrade. */
  function open(url: string, from: string): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { localAddress: from });
      ws.once('open', () => {
        // Initialise the graphql-ws connection, or the server closes it after 3 s.
        ws.send(JSON.stringify({ type: 'connection_init' }));
        resolve(ws);
      });
      ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode }));
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  it('refuses the 21st socket from one address with 429 while another address still connects', async () => {
    const { url } = await appWith();
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 20; i++) sockets.push(await open(url, '127.0.0.2'));
    await expect(open(url, '127.0.0.2')).rejects.toMatchObject({ status: 429 });
    const elsewhere = await open(url, '127.0.0.3');
    expect(elsewhere.readyState).toBe(WebSocket.OPEN);
    // A socket that closes gives its place back.
    await new Promise<void>((resolve) => {
      sockets[0]!.once('close', () => resolve());
      sockets[0]!.close();
    });
    await expect.poll(() => open(url, '127.0.0.2').then((ws) => (sockets.push(ws), true), () => false), { timeout: 3000 }).toBe(true);
    for (const ws of [...sockets, elsewhere]) ws.terminate();
  });

  it('takes its cap from the configuration (MAX_SOCKETS_PER_CLIENT)', async () => {
    const { url } = await appWith({ maxSocketsPerClient: 2 });
    const a = await open(url, '127.0.0.2');
    const b = await open(url, '127.0.0.2');
    await expect(open(url, '127.0.0.2')).rejects.toMatchObject({ status: 429 });
    a.terminate();
    b.terminate();
  });
});

describe('limits shared by every instance', () => {
  let t: TestApp;
  let second: App;
  let secondDb: DbHandle;
  const limits = { requestToSpeakPerMinutePerUser: 10, signInPerMinutePerHandleAndClient: 4 };
  beforeAll(async () => {
    ({ t } = await appWith({ rateLimits: limits }));
    secondDb = await createDb({ url: t.databaseUrl, migrate: false });
    second = await buildApp({ database: secondDb, serveWeb: false, port: 0, host: '127.0.0.1', rateLimits: limits, presenceGraceMs: 600_000 });
    apps.push({ close: async () => (await second.stop(), await secondDb.close()) });
  });

  const viaSecond = async (query: string, variables: Record<string, unknown>, token?: string): Promise<GqlResult> => {
    const response = await second.yoga.fetch('http://spaces.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, headers: response.headers, ...((await response.json()) as object) };
  };

  it('keeps the counters in PostgreSQL', () => {
    expect(t.app.services.limits.store.kind).toBe('postgres');
    expect(second.services.limits.store.kind).toBe('postgres');
  });

  it('a limit of N is N in total across two instances, not 2N', async () => {
    const [host, fan] = await users(t, 2, 'sh');
    const { createSpace } = await must(t, Q.create, { input: { title: 'Shared', speakerPolicy: 'EVERYONE' } }, host);
    const s = createSpace.id as string;
    await must(t, Q.join, { s }, fan);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 ? viaSecond(Q.raise, { s, r: i % 4 === 1 }, fan!.token) : t.gql(Q.raise, { s, r: i % 4 === 0 }, { token: fan!.token }),
      ),
    );
    expect(tally(results)).toEqual({ OK: 10, RATE_LIMITED: 30 });
  });

  it('counts sign-in attempts on both instances against one budget', async () => {
    const u = await t.signUp(handle('si'));
    const results = [];
    for (let i = 0; i < 6; i++)
      results.push(await (i % 2 ? viaSecond : (q: string, v: Record<string, unknown>) => t.gql(q, v))(SIGN_IN, { input: { handle: u.handle, password: 'wrong password' } }));
    expect(results.map(code)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('counts in memory with PGlite (one process), limits still enforced', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spaces-limits-'));
    const db = await createDb({ dataDir: dir });
    const app = await buildApp({ database: db, serveWeb: false, port: 0, host: '127.0.0.1', rateLimits: { signUpPerHourPerClient: 1 } });
    apps.push({ close: async () => (await app.stop(), await db.close(), rmSync(dir, { recursive: true, force: true })) });
    expect(app.services.limits.store.kind).toBe('memory');
    const up = async () => {
      const response = await app.yoga.fetch('http://spaces.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: SIGN_UP, variables: { input: { handle: handle('pg'), displayName: 'P', password: PASSWORD } } }),
      });
      return code({ status: response.status, headers: response.headers, ...((await response.json()) as object) });
    };
    expect([await up(), await up()]).toEqual(['OK', 'RATE_LIMITED']);
  }, 120_000);
});
