import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, handle, startTestApp, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const SIGN_UP = `mutation($input: SignUpInput!) { signUp(input: $input) { token user { id handle displayName followerCount followingCount } } }`;
const SIGN_IN = `mutation($input: SignInInput!) { signIn(input: $input) { token user { handle } } }`;
const VIEWER = `{ viewer { id handle } }`;

describe('signUp', () => {
  it('creates an account and returns a working token', async () => {
    const h = handle('ok');
    const r = await t.gql(SIGN_UP, { input: { handle: h, displayName: '  Ada   Lovelace ', password: 'long enough' } });
    expect(r.errors).toBeUndefined();
    expect(r.data!.signUp.user).toMatchObject({ handle: h, displayName: 'Ada Lovelace', followerCount: 0, followingCount: 0 });
    const me = await t.gql(VIEWER, {}, { token: r.data!.signUp.token });
    expect(me.data!.viewer.handle).toBe(h);
  });

  it.each([
    ['handle', { handle: 'ab' }],
    ['handle', { handle: 'a'.repeat(16) }],
    ['handle', { handle: 'no-dash' }],
    ['handle', { handle: 'spa ce' }],
    ['displayName', { displayName: '   ' }],
    ['displayName', { displayName: 'x'.repeat(51) }],
    ['password', { password: 'short' }],
    ['password', { password: 'p'.repeat(257) }],
  ])('rejects a bad %s with BAD_USER_INPUT naming the field (%j)', async (field, override) => {
    const input = { handle: handle('v'), displayName: 'Valid', password: 'long enough', ...override };
    const r = await t.gql(SIGN_UP, { input });
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.extensions!.field).toBe(field);
    expect(r.errors![0]!.message).toContain(field);
  });

  it('treats handles case-insensitively: a duplicate is a CONFLICT', async () => {
    const h = handle('dup');
    await t.signUp(h);
    const r = await t.gql(SIGN_UP, { input: { handle: h.toUpperCase(), displayName: 'X', password: 'long enough' } });
    expect(codes(r)).toEqual(['CONFLICT']);
    const found = await t.gql(`query($h: String!) { user(handle: $h) { handle } }`, { h: h.toUpperCase() });
    expect(found.data!.user.handle).toBe(h);
  });

  it('stores the password as an argon2id hash, never in clear', async () => {
    const h = handle('hash');
    await t.signUp(h);
    const { users } = await import('@spaces/db');
    const { eq } = await import('drizzle-orm');
    const [row] = await t.app.services.db.select().from(users).where(eq(users.handle, h));
    expect(row!.passwordHash).toMatch(/^\$argon2id\$/);
    expect(row!.passwordHash).not.toContain('correct horse');
  });
});

describe('signIn and sessions', () => {
  it('signs in with the right password, any handle case', async () => {
    const h = handle('in');
    await t.signUp(h);
    const r = await t.gql(SIGN_IN, { input: { handle: h.toUpperCase(), password: 'correct horse battery' } });
    expect(r.errors).toBeUndefined();
    expect(r.data!.signIn.user.handle).toBe(h);
  });

  it('gives the same answer for a wrong password and an unknown handle', async () => {
    const h = handle('wr');
    await t.signUp(h);
    const wrong = await t.gql(SIGN_IN, { input: { handle: h, password: 'not the password' } });
    const unknown = await t.gql(SIGN_IN, { input: { handle: handle('nobody'), password: 'not the password' } });
    expect(codes(wrong)).toEqual(['UNAUTHENTICATED']);
    expect(codes(unknown)).toEqual(['UNAUTHENTICATED']);
    expect(wrong.errors![0]!.message).toBe(unknown.errors![0]!.message);
  });

  it('rate limits sign-in attempts for a handle', async () => {
    const h = handle('rl');
    await t.signUp(h);
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await t.gql(SIGN_IN, { input: { handle: h, password: 'wrong password' } }));
    const limited = results.filter((r) => codes(r)[0] === 'RATE_LIMITED');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.errors![0]!.extensions!.retryAfterMs).toBeGreaterThan(0);
    // Even the right password waits out the window.
    const right = await t.gql(SIGN_IN, { input: { handle: h, password: 'correct horse battery' } });
    expect(codes(right)).toEqual(['RATE_LIMITED']);
  });

  it('signOut revokes the token', async () => {
    const u = await t.signUp(handle('out'));
    expect((await t.gql(VIEWER, {}, { token: u.token })).data!.viewer.id).toBe(u.id);
    const out = await t.gql(`mutation { signOut }`, {}, { token: u.token });
    expect(out.data!.signOut).toBe(true);
    const after = await t.gql(VIEWER, {}, { token: u.token });
    expect(codes(after)).toEqual(['UNAUTHENTICATED']);
  });

  it('signOut when signed out answers false', async () => {
    const r = await t.gql(`mutation { signOut }`);
    expect(r.data!.signOut).toBe(false);
  });

  it('rejects a malformed or unknown bearer token', async () => {
    expect(codes(await t.gql(VIEWER, {}, { token: 'not-a-token' }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(VIEWER, {}, { headers: { authorization: 'Basic abc' } }))).toEqual(['UNAUTHENTICATED']);
  });

  it('viewer is null when signed out', async () => {
    const r = await t.gql(VIEWER);
    expect(r.errors).toBeUndefined();
    expect(r.data!.viewer).toBeNull();
  });
});

describe('cookie sessions (PWA)', () => {
  it('sets an HttpOnly SameSite cookie that authenticates same-origin requests', async () => {
    const h = handle('ck');
    const r = await t.gql(SIGN_UP, { input: { handle: h, displayName: 'C', password: 'long enough' } });
    const setCookie = r.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^spaces_session=[^;]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Lax');
    const cookie = setCookie.split(';')[0]!;
    const same = await t.gql(VIEWER, {}, { headers: { cookie, origin: 'http://spaces.test' } });
    expect(same.data!.viewer.handle).toBe(h);
  });

  it('refuses a cross-site POST carrying only the cookie (CSRF)', async () => {
    const u = await t.signUp(handle('cs'));
    const target = await t.signUp(handle('ct'));
    const signIn = await t.gql(SIGN_IN, { input: { handle: u.handle, password: 'correct horse battery' } });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const evil = await t.gql(`mutation($id: ID!) { follow(userId: $id) { id } }`, { id: target.id }, {
      headers: { cookie, origin: 'https://evil.example' },
    });
    expect(evil.status).toBe(403);
    expect(codes(evil)).toEqual(['FORBIDDEN']);
    const noOrigin = await t.gql(`mutation($id: ID!) { follow(userId: $id) { id } }`, { id: target.id }, { headers: { cookie } });
    expect(codes(noOrigin)).toEqual(['FORBIDDEN']);
    const check = await t.gql(`query($h: String!) { user(handle: $h) { followerCount } }`, { h: target.handle });
    expect(check.data!.user.followerCount).toBe(0);
  });
});
