import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { oauthCodes } from '@spaces/db';
import { codes, handle, startTestApp, TEST_APP_RATE_LIMITS, type TestApp } from '../support/app.ts';
import {
  approve,
  AUTHORIZATION_REQUEST,
  APPROVE,
  authorizationInput,
  DENY,
  oauthTokens,
  pkce,
  postForm,
  registerApp,
  type RegisteredApp,
} from '../support/oauth.ts';

/**
 * OAuth 2.1 authorization code with PKCE against a real app on real PostgreSQL: the consent
 * fields (authorizationRequest, approveAuthorization, denyAuthorization) with the user's own
 * session, then /oauth/token, /graphql with the token, refresh with rotation, revocation.
 */
let t: TestApp;
let base: string;
let owner: { id: string; token: string; handle: string };
let user: { id: string; token: string; handle: string };
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.start();
  owner = await t.signUp(handle('dev'));
  user = await t.signUp(handle('usr'));
});
afterAll(() => t?.close());

const VIEWER = `{ viewer { handle } }`;
const CREATE_SPACE = `mutation { createSpace(input: { title: "From an app", speakerPolicy: EVERYONE }) { id } }`;
const FOLLOW = `mutation($id: ID!) { follow(userId: $id) { id } }`;
const AUTHORIZATIONS = `{ appAuthorizations { id scopes lastUsedAt app { clientId name } } }`;

async function exchange(app: RegisteredApp, code: string, verifier: string | undefined, extra: Record<string, string | undefined> = {}) {
  return postForm(base, '/oauth/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: app.redirectUri,
    client_id: app.clientId,
    code_verifier: verifier,
    ...extra,
  });
}
const refresh = (app: RegisteredApp, refreshToken: string, extra: Record<string, string | undefined> = {}) =>
  postForm(base, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: app.clientId, ...extra });

describe('the authorization code flow', () => {
  it('register → consent → code → token → call → refresh (rotated) → revoke', async () => {
    const app = await registerApp(t, owner.token, { name: 'Space bot' });
    expect(app.clientSecret).toBeNull();
    const { verifier, challenge } = pkce();
    const input = authorizationInput(app, 'read spaces:write', challenge);

    // The consent screen's check: the app, its owner, the scopes in order.
    const checked = await t.gql(AUTHORIZATION_REQUEST, { input }, { token: user.token });
    expect(checked.errors).toBeUndefined();
    expect(checked.data!.authorizationRequest).toEqual({
      app: { clientId: app.clientId, name: 'Space bot', owner: { handle: owner.handle } },
      scopes: ['READ', 'SPACES_WRITE'],
      redirectUri: app.redirectUri,
    });

    const { redirectTo, code, state } = await approve(t, user.token, input);
    expect(redirectTo.origin + redirectTo.pathname).toBe(app.redirectUri);
    expect(state).toBe(input.state);
    expect(code).toMatch(/^[A-Za-z0-9_-]{40,}$/);

    const answer = await exchange(app, code, verifier);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ token_type: 'Bearer', scope: 'read spaces:write' });
    // An hour, counted down from when it was stored.
    expect(answer.body.expires_in).toBeGreaterThanOrEqual(3590);
    expect(answer.body.expires_in).toBeLessThanOrEqual(3600);
    expect(answer.body.access_token).toMatch(/^spaces_at_/);
    expect(answer.body.refresh_token).toMatch(/^spaces_rt_/);
    const access = answer.body.access_token!;

    // The token acts for the user within its scopes.
    const viewer = await t.gql(VIEWER, {}, { token: access });
    expect(viewer.data?.viewer.handle).toBe(user.handle);
    const created = await t.gql(CREATE_SPACE, {}, { token: access });
    expect(created.errors).toBeUndefined();
    const follow = await t.gql(FOLLOW, { id: Buffer.from(`User:${owner.id}`).toString('base64url') }, { token: access });
    expect(follow.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScope: 'follow' });
    expect(follow.errors?.[0]?.message).toBe('This token lacks the "follow" scope.');

    // The user sees the app among their authorizations.
    const listed = await t.gql(AUTHORIZATIONS, {}, { token: user.token });
    expect(listed.data!.appAuthorizations).toEqual([
      expect.objectContaining({ scopes: ['READ', 'SPACES_WRITE'], app: { clientId: app.clientId, name: 'Space bot' } }),
    ]);

    // Refresh: new pair; the old refresh token is spent.
    const first = answer.body.refresh_token!;
    const rotated = await refresh(app, first);
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).toMatch(/^spaces_rt_/);
    expect(rotated.body.refresh_token).not.toBe(first);
    expect(rotated.body.scope).toBe('read spaces:write');
    const access2 = rotated.body.access_token!;
    expect((await t.gql(VIEWER, {}, { token: access2 })).data?.viewer.handle).toBe(user.handle);

    // The app revokes its access token (RFC 7009): it stops working at once.
    const revoked = await postForm(base, '/oauth/revoke', { token: access2, client_id: app.clientId });
    expect(revoked.status).toBe(200);
    const after = await t.gql(VIEWER, {}, { token: access2 });
    expect(codes(after)).toEqual(['UNAUTHENTICATED']);
    // Another client cannot revoke this app's tokens (still 200, nothing happens).
    const other = await registerApp(t, owner.token);
    expect((await postForm(base, '/oauth/revoke', { token: access, client_id: other.clientId })).status).toBe(200);
    expect((await t.gql(VIEWER, {}, { token: access })).data?.viewer.handle).toBe(user.handle);

    // Revoking the refresh token ends its chain.
    const second = rotated.body.refresh_token!;
    expect((await postForm(base, '/oauth/revoke', { token: second, token_type_hint: 'refresh_token', client_id: app.clientId })).status).toBe(200);
    expect((await refresh(app, second)).body.error).toBe('invalid_grant');
  });

  it('a rotated refresh token used again is refused and revokes the whole authorization', async () => {
    const app = await registerApp(t, owner.token);
    const { accessToken, refreshToken } = await oauthTokens(t, base, app, user.token, 'read');
    const rotated = await refresh(app, refreshToken);
    expect(rotated.status).toBe(200);
    // Replay of the spent one.
    const replay = await refresh(app, refreshToken);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    // Everything of that authorization is gone: the first access token, the new pair.
    expect(codes(await t.gql(VIEWER, {}, { token: accessToken }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(VIEWER, {}, { token: rotated.body.access_token! }))).toEqual(['UNAUTHENTICATED']);
    expect((await refresh(app, rotated.body.refresh_token!)).body.error).toBe('invalid_grant');
    const listed = await t.gql(AUTHORIZATIONS, {}, { token: user.token });
    expect(listed.data!.appAuthorizations.map((a: { app: { clientId: string } }) => a.app.clientId)).not.toContain(app.clientId);
  });

  it('a refresh token works only for its own client', async () => {
    const app = await registerApp(t, owner.token);
    const other = await registerApp(t, owner.token);
    const { refreshToken } = await oauthTokens(t, base, app, user.token, 'read');
    const stolen = await refresh(other, refreshToken);
    expect(stolen.body.error).toBe('invalid_grant');
    expect((await refresh(app, refreshToken)).status).toBe(200);
  });

  it('the user revokes the app: its tokens stop working', async () => {
    const app = await registerApp(t, owner.token);
    const { accessToken, refreshToken } = await oauthTokens(t, base, app, user.token, 'read');
    const listed = await t.gql(AUTHORIZATIONS, {}, { token: user.token });
    const grant = listed.data!.appAuthorizations.find((a: { app: { clientId: string } }) => a.app.clientId === app.clientId);
    const revoked = await t.gql(`mutation($id: ID!) { revokeAppAuthorization(id: $id) }`, { id: grant.id }, { token: user.token });
    expect(revoked.data?.revokeAppAuthorization).toBe(true);
    expect(codes(await t.gql(VIEWER, {}, { token: accessToken }))).toEqual(['UNAUTHENTICATED']);
    expect((await refresh(app, refreshToken)).body.error).toBe('invalid_grant');
    // Not someone else's to revoke.
    const again = await t.gql(`mutation($id: ID!) { revokeAppAuthorization(id: $id) }`, { id: grant.id }, { token: owner.token });
    expect(codes(again)).toEqual(['NOT_FOUND']);
  });

  it('deleting the app ends every authorization of it', async () => {
    const app = await registerApp(t, owner.token);
    const { accessToken } = await oauthTokens(t, base, app, user.token, 'read');
    const notOwner = await t.gql(`mutation($id: ID!) { deleteApp(id: $id) }`, { id: app.id }, { token: user.token });
    expect(codes(notOwner)).toEqual(['NOT_FOUND']);
    const deleted = await t.gql(`mutation($id: ID!) { deleteApp(id: $id) }`, { id: app.id }, { token: owner.token });
    expect(deleted.data?.deleteApp).toBe(true);
    expect(codes(await t.gql(VIEWER, {}, { token: accessToken }))).toEqual(['UNAUTHENTICATED']);
  });

  it('deny: back to the app with error=access_denied and the state, and no code', async () => {
    const app = await registerApp(t, owner.token);
    const input = authorizationInput(app, 'read', pkce().challenge);
    const r = await t.gql(DENY, { input }, { token: user.token });
    const to = new URL(r.data!.denyAuthorization.redirectTo);
    expect(to.origin + to.pathname).toBe(app.redirectUri);
    expect(to.searchParams.get('error')).toBe('access_denied');
    expect(to.searchParams.get('state')).toBe(input.state);
    expect(to.searchParams.get('code')).toBeNull();
  });

  it('a redirect URI with its own query keeps it, and gets code and state added', async () => {
    const app = await registerApp(t, owner.token, { redirectUris: ['https://app.example/cb?tenant=7'] });
    const { redirectTo } = await approve(t, user.token, authorizationInput(app, 'read', pkce().challenge));
    expect(redirectTo.searchParams.get('tenant')).toBe('7');
    expect(redirectTo.searchParams.get('code')).toBeTruthy();
  });

  it('consent needs the PWA’s own sign-in: signed out, a guest or a token are refused', async () => {
    const app = await registerApp(t, owner.token);
    const input = authorizationInput(app, 'read', pkce().challenge);
    expect(codes(await t.gql(APPROVE, { input }))).toEqual(['UNAUTHENTICATED']);
    const { accessToken } = await oauthTokens(t, base, app, user.token, 'read spaces:write follow');
    const byToken = await t.gql(APPROVE, { input }, { token: accessToken });
    expect(byToken.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScope: 'session' });
    expect(byToken.errors?.[0]?.message).toBe("Only the Spaces app's own sign-in can manage tokens and apps.");
  });

  it('publishes RFC 8414 metadata', async () => {
    const response = await fetch(base + '/.well-known/oauth-authorization-server');
    expect(response.status).toBe(200);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: base,
      authorization_endpoint: `${base}/oauth/authorize`,
      token_endpoint: `${base}/oauth/token`,
      revocation_endpoint: `${base}/oauth/revoke`,
      code_challenge_methods_supported: ['S256'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
    });
    expect(metadata.scopes_supported).toContain('spaces:moderate');
  });

  it('the token endpoint ignores the session cookie and wants a form', async () => {
    const json = await fetch(base + '/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `spaces_session=${user.token}` },
      body: JSON.stringify({ grant_type: 'refresh_token' }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
    const noClient = await postForm(base, '/oauth/token', { grant_type: 'refresh_token', refresh_token: 'x' }, { cookie: `spaces_session=${user.token}` });
    expect(noClient.body.error).toMatch(/invalid_(request|client)/);
  });
});

describe('PKCE is required', () => {
  let app: RegisteredApp;
  beforeAll(async () => {
    app = await registerApp(t, owner.token);
  });

  it('a request without a challenge, or with plain, is refused before any redirect', async () => {
    const { challenge } = pkce();
    for (const extra of [{ codeChallenge: null, codeChallengeMethod: null }, { codeChallengeMethod: null }, { codeChallengeMethod: 'plain' }, { codeChallenge: 'short', codeChallengeMethod: 'S256' }]) {
      const input = authorizationInput(app, 'read', challenge, extra);
      for (const query of [AUTHORIZATION_REQUEST, APPROVE, DENY]) {
        const r = await t.gql(query, { input }, { token: user.token });
        expect(codes(r), `${JSON.stringify(extra)} ${query.slice(0, 40)}`).toEqual(['BAD_USER_INPUT']);
        expect(r.data).toBeNull();
      }
    }
  });

  it('a wrong or missing verifier is refused, and spends the code', async () => {
    const { challenge } = pkce();
    const { code } = await approve(t, user.token, authorizationInput(app, 'read', challenge));
    const wrong = await exchange(app, code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');

    const second = pkce();
    const { code: code2 } = await approve(t, user.token, authorizationInput(app, 'read', second.challenge));
    const missing = await exchange(app, code2, undefined);
    expect(missing.body.error).toBe('invalid_grant');
    // Both codes are spent: the right verifier comes too late.
    expect((await exchange(app, code2, second.verifier)).body.error).toBe('invalid_grant');
  });

  it('the verifier is checked as S256 of the challenge (plain verifier = challenge is refused)', async () => {
    const { verifier, challenge } = pkce();
    expect(createHash('sha256').update(verifier).digest('base64url')).toBe(challenge);
    const { code } = await approve(t, user.token, authorizationInput(app, 'read', challenge));
    const plain = await exchange(app, code, challenge);
    expect(plain.body.error).toBe('invalid_grant');
  });
});

describe('redirect URIs match exactly', () => {
  it('prefix, extra path, other query, trailing slash, other scheme or case: refused without a redirect', async () => {
    const app = await registerApp(t, owner.token, { redirectUris: ['https://app.example/callback?x=1'] });
    const variants = [
      'https://app.example/call',
      'https://app.example/callback',
      'https://app.example/callback/evil?x=1',
      'https://app.example/callback?x=2',
      'https://app.example/callback?x=1&y=2',
      'https://app.example/callback/?x=1',
      'http://app.example/callback?x=1',
      'https://APP.example/callback?x=1',
      'https://app.example.evil.test/callback?x=1',
    ];
    for (const redirectUri of variants) {
      const input = authorizationInput(app, 'read', pkce().challenge, { redirectUri });
      for (const query of [AUTHORIZATION_REQUEST, APPROVE, DENY]) {
        const r = await t.gql(query, { input }, { token: user.token });
        expect(codes(r), `${redirectUri} ${query.slice(0, 30)}`).toEqual(['BAD_USER_INPUT']);
        expect(r.errors![0]!.message).toMatch(/redirectUri/);
        expect(r.data).toBeNull();
      }
    }
    // The registered one passes.
    const ok = await t.gql(AUTHORIZATION_REQUEST, { input: authorizationInput(app, 'read', pkce().challenge, { redirectUri: 'https://app.example/callback?x=1' }) }, { token: user.token });
    expect(ok.errors).toBeUndefined();
  });

  it('the token request must name the code’s redirect URI', async () => {
    const app = await registerApp(t, owner.token, { redirectUris: ['https://app.example/a', 'https://app.example/b'] });
    const { verifier, challenge } = pkce();
    const { code } = await approve(t, user.token, authorizationInput(app, 'read', challenge));
    const other = await exchange(app, code, verifier, { redirect_uri: 'https://app.example/b' });
    expect(other.status).toBe(400);
    expect(other.body.error).toMatch(/invalid_(request|grant)/);
  });

  it('registration refuses fragments and plain http off loopback', async () => {
    for (const uri of ['https://app.example/cb#x', 'http://app.example/cb', 'javascript:alert(1)', 'not a uri']) {
      const r = await t.gql(`mutation($input: RegisterAppInput!) { registerApp(input: $input) { app { id } } }`, { input: { name: 'Bad', redirectUris: [uri] } }, { token: owner.token });
      expect(codes(r), uri).toEqual(['BAD_USER_INPUT']);
    }
    const loopback = await registerApp(t, owner.token, { redirectUris: ['http://127.0.0.1:8765/cb', 'com.example.app:/oauth'] });
    expect(loopback.clientId).toMatch(/^spaces_app_/);
  });
});

describe('codes and clients', () => {
  it('a code is single use: the second exchange fails and revokes what the first issued', async () => {
    const app = await registerApp(t, owner.token);
    const { verifier, challenge } = pkce();
    const { code } = await approve(t, user.token, authorizationInput(app, 'read', challenge));
    const first = await exchange(app, code, verifier);
    expect(first.status).toBe(200);
    expect((await t.gql(VIEWER, {}, { token: first.body.access_token! })).data?.viewer.handle).toBe(user.handle);
    const second = await exchange(app, code, verifier);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    expect(codes(await t.gql(VIEWER, {}, { token: first.body.access_token! }))).toEqual(['UNAUTHENTICATED']);
    expect((await refresh(app, first.body.refresh_token!)).body.error).toBe('invalid_grant');
  });

  it('a code lives 10 minutes; an expired one is refused', async () => {
    const app = await registerApp(t, owner.token);
    const { verifier, challenge } = pkce();
    const before = Date.now();
    const { code } = await approve(t, user.token, authorizationInput(app, 'read', challenge));
    const db = t.app.services.db;
    const [row] = await db.select().from(oauthCodes).where(eq(oauthCodes.codeHash, createHash('sha256').update(code).digest('hex')));
    expect(row!.codeChallengeMethod).toBe('S256');
    expect(row!.expiresAt.getTime() - before).toBeGreaterThan(599_000);
    expect(row!.expiresAt.getTime() - before).toBeLessThanOrEqual(601_000);
    await db.update(oauthCodes).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(oauthCodes.id, row!.id));
    const late = await exchange(app, code, verifier);
    expect(late.body.error).toBe('invalid_grant');
  });

  it('a code works only for the client it was issued to', async () => {
    const app = await registerApp(t, owner.token);
    const other = await registerApp(t, owner.token, { redirectUris: [app.redirectUri] });
    const { verifier, challenge } = pkce();
    const { code } = await approve(t, user.token, authorizationInput(app, 'read', challenge));
    expect((await exchange(other, code, verifier)).body.error).toBe('invalid_grant');
  });

  it('a confidential client must send its secret (body or HTTP Basic)', async () => {
    const app = await registerApp(t, owner.token, { confidential: true });
    expect(app.clientSecret).toMatch(/^spaces_cs_/);
    const attempt = async (extra: Record<string, string | undefined>, headers: Record<string, string> = {}) => {
      const { verifier, challenge } = pkce();
      const { code } = await approve(t, user.token, authorizationInput(app, 'read', challenge));
      return postForm(base, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: app.redirectUri, code_verifier: verifier, ...extra }, headers);
    };
    const without = await attempt({ client_id: app.clientId });
    expect(without.body.error).toBe('invalid_client');
    const wrong = await attempt({ client_id: app.clientId, client_secret: 'spaces_cs_wrong' });
    expect(wrong.body.error).toBe('invalid_client');
    const right = await attempt({ client_id: app.clientId, client_secret: app.clientSecret! });
    expect(right.status).toBe(200);
    const basic = Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret!)}`).toString('base64');
    const viaBasic = await attempt({}, { authorization: `Basic ${basic}` });
    expect(viaBasic.status).toBe(200);
    // Refresh needs the secret too.
    expect((await refresh(app, right.body.refresh_token!)).body.error).toBe('invalid_client');
    expect((await refresh(app, right.body.refresh_token!, { client_secret: app.clientSecret! })).status).toBe(200);
    // And revocation.
    expect((await postForm(base, '/oauth/revoke', { token: viaBasic.body.access_token!, client_id: app.clientId })).status).toBe(401);
  });

  it('unknown scopes, unknown clients and other response types are BAD_USER_INPUT', async () => {
    const app = await registerApp(t, owner.token);
    const { challenge } = pkce();
    for (const extra of [{ scope: 'read admin' }, { scope: '' }, { clientId: 'spaces_app_nope' }, { responseType: 'token' }]) {
      const r = await t.gql(AUTHORIZATION_REQUEST, { input: authorizationInput(app, 'read', challenge, extra) }, { token: user.token });
      expect(codes(r), JSON.stringify(extra)).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('the token and revocation endpoints are rate limited per client', () => {
  it('past the limit: 429 with Retry-After, for token and revocation requests alike', async () => {
    const limited = await startTestApp({ rateLimits: { ...TEST_APP_RATE_LIMITS, oauthEndpointPerMinutePerClient: 3 } });
    try {
      const url = await limited.app.start();
      const guess = { grant_type: 'authorization_code', code: 'guessed', redirect_uri: 'https://bot.example/cb', client_id: 'spaces_app_nope' };
      for (let i = 0; i < 2; i++) expect((await postForm(url, '/oauth/token', guess)).status).toBe(400);
      expect((await postForm(url, '/oauth/revoke', { token: 'guessed', client_id: 'spaces_app_nope' })).status).toBe(401);
      const refused = await fetch(`${url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(guess) });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await refused.json()).toMatchObject({ error: 'too_many_requests' });
      expect((await postForm(url, '/oauth/revoke', { token: 'guessed', client_id: 'spaces_app_nope' })).status).toBe(429);
      // The metadata is not counted.
      expect((await fetch(`${url}/.well-known/oauth-authorization-server`)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
