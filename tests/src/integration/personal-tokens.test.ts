import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { eq } from 'drizzle-orm';
import { buildApp, type App } from '@spaces/api';
import { createDb } from '@spaces/db';
import { sessions } from '@spaces/db';
import { codes, handle, startTestApp, TEST_APP_RATE_LIMITS, type TestApp } from '../support/app.ts';
import { approve, authorizationInput, CREATE_PAT, pkce, personalToken, postForm, registerApp } from '../support/oauth.ts';
import { sleep, subscribe } from '../support/ws.ts';

/**
 * Personal access tokens on real PostgreSQL: create (shown once), list, use, expiry, revoke
 * (which closes the token's open subscriptions), and the per-token and per-app request limits
 * shared by two API instances.
 */
let t: TestApp;
let base: string;
let me: { id: string; token: string; handle: string };
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.start();
  me = await t.signUp(handle('pat'));
});
afterAll(() => t?.close());

const LIST = `{ personalAccessTokens { id name scopes createdAt expiresAt lastUsedAt } }`;
const REVOKE = `mutation($id: ID!) { revokePersonalAccessToken(id: $id) { id name } }`;
const VIEWER = `{ viewer { handle } }`;
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1]!;

describe('personal access tokens', () => {
  it('create: the token once, its scopes, name and expiry; stored hashed', async () => {
    const before = Date.now();
    const created = await personalToken(t, me.token, ['READ', 'SPACES_WRITE'], 'My bot', 30);
    expect(created.token).toMatch(/^spaces_pat_[A-Za-z0-9_-]{43}$/);
    expect(created.personalAccessToken).toMatchObject({ name: 'My bot', scopes: ['READ', 'SPACES_WRITE'], lastUsedAt: null });
    const days = (Date.parse(created.personalAccessToken.expiresAt) - before) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThan(30.01);
    const [row] = await t.app.services.db.select().from(sessions).where(eq(sessions.id, uuidOf(created.personalAccessToken.id)));
    expect(row!.kind).toBe('personal');
    expect(row!.tokenHash).not.toContain(created.token.slice(11));
    expect(JSON.stringify(row)).not.toContain(created.token);
  });

  it('validates name, scopes and expiry', async () => {
    const bad = [
      { name: '', scopes: ['READ'], expiresInDays: 30 },
      { name: 'x'.repeat(101), scopes: ['READ'], expiresInDays: 30 },
      { name: 'ok', scopes: [], expiresInDays: 30 },
      { name: 'ok', scopes: ['READ'], expiresInDays: 0 },
      { name: 'ok', scopes: ['READ'], expiresInDays: 367 },
    ];
    for (const input of bad) {
      const r = await t.gql(CREATE_PAT, { input }, { token: me.token });
      expect(codes(r), JSON.stringify(input).slice(0, 60)).toEqual(['BAD_USER_INPUT']);
    }
    expect((await personalToken(t, me.token, ['READ'], 'x'.repeat(100), 366)).personalAccessToken.name).toHaveLength(100);
    expect(codes(await t.gql(CREATE_PAT, { input: { name: 'ok', scopes: ['READ'], expiresInDays: 1 } }))).toEqual(['UNAUTHENTICATED']);
  });

  it('use: acts as the user; lastUsedAt is set, and written at most once a minute', async () => {
    const { token, personalAccessToken } = await personalToken(t, me.token, ['READ'], 'reader');
    expect((await t.gql(VIEWER, {}, { token })).data?.viewer.handle).toBe(me.handle);
    const lastUsed = async () => {
      const list = await t.gql(LIST, {}, { token: me.token });
      return list.data!.personalAccessTokens.find((p: { id: string }) => p.id === personalAccessToken.id).lastUsedAt as string | null;
    };
    let first: string | null = null;
    for (const deadline = Date.now() + 2_000; !first && Date.now() < deadline; await sleep(20)) first = await lastUsed();
    expect(first).not.toBeNull();
    await t.gql(VIEWER, {}, { token });
    await sleep(100);
    expect(await lastUsed()).toBe(first);
  });

  it('a token cannot make or manage tokens', async () => {
    const { token } = await personalToken(t, me.token, ['READ', 'FOLLOW', 'SPACES_WRITE', 'SPACES_MODERATE', 'AUDIO', 'PROFILE_WRITE', 'FLEETS_WRITE'], 'all');
    const r = await t.gql(CREATE_PAT, { input: { name: 'child', scopes: ['READ'], expiresInDays: 1 } }, { token });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScope: 'session' });
    expect(codes(await t.gql(LIST, {}, { token }))).toEqual(['FORBIDDEN']);
  });

  it('expiry: an expired token is refused', async () => {
    const { token, personalAccessToken } = await personalToken(t, me.token, ['READ'], 'expiring', 1);
    expect((await t.gql(VIEWER, {}, { token })).data?.viewer.handle).toBe(me.handle);
    await t.app.services.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessions.id, uuidOf(personalAccessToken.id)));
    const r = await t.gql(VIEWER, {}, { token });
    expect(codes(r)).toEqual(['UNAUTHENTICATED']);
  });

  it('list: not revoked, newest first; revoke: gone from the list, refused at once, others’ tokens not revocable', async () => {
    const other = await t.signUp(handle('oth'));
    const a = await personalToken(t, other.token, ['READ'], 'a');
    await sleep(5);
    const b = await personalToken(t, other.token, ['FOLLOW', 'READ'], 'b');
    const list = await t.gql(LIST, {}, { token: other.token });
    expect(list.data!.personalAccessTokens.map((p: { name: string }) => p.name)).toEqual(['b', 'a']);

    expect(codes(await t.gql(REVOKE, { id: a.personalAccessToken.id }, { token: me.token }))).toEqual(['NOT_FOUND']);
    const revoked = await t.gql(REVOKE, { id: a.personalAccessToken.id }, { token: other.token });
    expect(revoked.data?.revokePersonalAccessToken).toEqual({ id: a.personalAccessToken.id, name: 'a' });
    expect(codes(await t.gql(VIEWER, {}, { token: a.token }))).toEqual(['UNAUTHENTICATED']);
    const after = await t.gql(LIST, {}, { token: other.token });
    expect(after.data!.personalAccessTokens.map((p: { name: string }) => p.name)).toEqual(['b']);
    expect((await t.gql(VIEWER, {}, { token: b.token })).data?.viewer.handle).toBe(other.handle);
  });

  it('node(id:) finds a token or app for its owner only', async () => {
    const pat = await personalToken(t, me.token, ['READ'], 'by id');
    const app = await registerApp(t, me.token);
    const NODES = `query($a: ID!, $b: ID!) { a: node(id: $a) { __typename id } b: node(id: $b) { __typename id } }`;
    const mine = await t.gql(NODES, { a: pat.personalAccessToken.id, b: app.id }, { token: me.token });
    expect(mine.data).toEqual({ a: { __typename: 'PersonalAccessToken', id: pat.personalAccessToken.id }, b: { __typename: 'App', id: app.id } });
    const other = await t.signUp(handle('nod'));
    expect((await t.gql(NODES, { a: pat.personalAccessToken.id, b: app.id }, { token: other.token })).data).toEqual({ a: null, b: null });
    // Nor through a token of the owner's (read scope): token management stays with the session.
    expect((await t.gql(NODES, { a: pat.personalAccessToken.id, b: app.id }, { token: pat.token })).data).toEqual({ a: null, b: null });
  });

  it('revoke closes the token’s open graphql-ws subscription (4403)', async () => {
    const { token, personalAccessToken } = await personalToken(t, me.token, ['READ'], 'socket');
    let closedWith: number | null = null;
    const client = createClient({
      url: base.replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: { closed: (event) => (closedWith = (event as { code: number }).code) },
    });
    const bar = subscribe(client, `subscription { spacesBar { id } }`);
    await bar.waitFor(() => true, 5_000);
    expect(closedWith).toBeNull();
    const revokedAt = Date.now();
    await t.gql(REVOKE, { id: personalAccessToken.id }, { token: me.token });
    for (const deadline = Date.now() + 2_000; closedWith === null && Date.now() < deadline; ) await sleep(20);
    expect(closedWith).toBe(4403);
    expect(Date.now() - revokedAt).toBeLessThan(2_000);
    await client.dispose();
  });
});

describe('limits per token and per app, across two API instances', () => {
  let second: App;
  let secondBase: string;
  let limited: TestApp;
  let limitedBase: string;
  beforeAll(async () => {
    const rateLimits = { tokenRequestsPerMinute: 5, appRequestsPerMinute: 8 };
    limited = await startTestApp({ rateLimits: { ...TEST_APP_RATE_LIMITS, ...rateLimits } });
    limitedBase = await limited.app.start();
    const secondDb = await createDb({ url: limited.databaseUrl, migrate: false });
    second = await buildApp({ database: secondDb, serveWeb: false, port: 0, host: '127.0.0.1', pubsub: 'postgres', presenceGraceMs: 600_000, rateLimits: { ...TEST_APP_RATE_LIMITS, ...rateLimits } });
    secondBase = await second.start();
  });
  afterAll(async () => {
    await second?.stop();
    await limited?.close();
  });

  const viaHttp = async (url: string, token: string) => {
    const response = await fetch(url + '/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: VIEWER }),
    });
    return (await response.json()) as { data?: unknown; errors?: { extensions: Record<string, unknown> }[] };
  };

  it('a token gets TOKEN_REQUESTS_PER_MINUTE in total, whichever instance it calls; then RATE_LIMITED limitedBy TOKEN', async () => {
    const owner = await limited.signUp(handle('lim'));
    const { token } = await personalToken(limited, owner.token, ['READ'], 'limited');
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await viaHttp(i % 2 ? secondBase : limitedBase, token));
    expect(results.slice(0, 5).map((r) => r.errors)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    const refused = results[5]!.errors![0]!.extensions;
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', limit: 5, remaining: 0, limitedBy: 'TOKEN' });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    // Another token of the same user is not affected; nor is the user's own session.
    const fresh = await personalToken(limited, owner.token, ['READ'], 'fresh');
    expect((await viaHttp(secondBase, fresh.token)).errors).toBeUndefined();
    expect((await viaHttp(limitedBase, owner.token)).errors).toBeUndefined();
  });

  it('an app’s tokens share APP_REQUESTS_PER_MINUTE across its users and instances; then limitedBy APP', async () => {
    const dev = await limited.signUp(handle('dev'));
    const app = await registerApp(limited, dev.token);
    const tokens: string[] = [];
    for (let i = 0; i < 2; i++) {
      const u = await limited.signUp(handle('au'));
      const { verifier, challenge } = pkce();
      const { code } = await approve(limited, u.token, authorizationInput(app, 'read', challenge));
      const answer = await postForm(limitedBase, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: app.redirectUri, client_id: app.clientId, code_verifier: verifier });
      tokens.push(answer.body.access_token!);
    }
    // 4 + 4 requests: each token is under its own limit of 5, the app reaches its 8.
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await viaHttp(i % 2 ? secondBase : limitedBase, tokens[Math.floor(i / 4)]!));
    expect(results.every((r) => !r.errors)).toBe(true);
    const refused = (await viaHttp(secondBase, tokens[1]!)).errors![0]!.extensions;
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', limit: 8, remaining: 0, limitedBy: 'APP' });
  });

  it('uploads count against the token too', async () => {
    const owner = await limited.signUp(handle('upl'));
    const { token } = await personalToken(limited, owner.token, ['PROFILE_WRITE'], 'uploader');
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const response = await fetch((i % 2 ? secondBase : limitedBase) + '/media/avatar', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' },
        body: new Uint8Array([1, 2, 3]),
      });
      statuses.push(response.status);
      if (i === 5) expect(((await response.json()) as { errors: { extensions: Record<string, unknown> }[] }).errors[0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', limitedBy: 'TOKEN' });
      else await response.arrayBuffer();
    }
    expect(statuses).toEqual([422, 422, 422, 422, 422, 429]);
  });
});
