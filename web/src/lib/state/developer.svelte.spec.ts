import { describe, expect, it } from 'vitest';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { parseRedirectUris, PersonalTokens, RegisteredApps, validateAppForm, validateTokenForm } from './developer.svelte';

const app = (n: number, confidential = false) => ({
  id: `A${n}`,
  clientId: `client_${n}`,
  name: `App ${n}`,
  description: null,
  redirectUris: [`https://app${n}.example/cb`],
  confidential,
  createdAt: '2026-01-01T00:00:00.000Z',
  owner: { id: 'U1', handle: 'ada', displayName: 'Ada' },
});
const pat = (n: number) => ({
  id: `T${n}`,
  name: `Token ${n}`,
  scopes: ['READ'],
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-31T00:00:00.000Z',
  lastUsedAt: null,
});
const appForm = { name: ' Echo bot ', description: '', redirectUris: 'https://bot.example/cb\n\n  http://127.0.0.1:8000/cb \nhttps://bot.example/cb', confidential: true };

describe('the app registration form', () => {
  it('takes one redirect URI a line, trimmed, blanks and repeats dropped', () => {
    expect(parseRedirectUris(appForm.redirectUris)).toEqual(['https://bot.example/cb', 'http://127.0.0.1:8000/cb']);
  });

  it('wants a name and absolute redirect URIs without a fragment', () => {
    expect(validateAppForm(appForm)).toEqual({});
    expect(validateAppForm({ ...appForm, name: '  ', redirectUris: '' })).toEqual({
      name: expect.stringMatching(/name/),
      redirectUris: 'Enter at least one redirect URI.',
    });
    expect(validateAppForm({ ...appForm, redirectUris: 'https://ok.example/cb\n/relative' }).redirectUris).toMatch(/“\/relative”/);
    expect(validateAppForm({ ...appForm, redirectUris: 'https://ok.example/cb#x' }).redirectUris).toMatch(/fragment/);
  });
});

describe('RegisteredApps', () => {
  it('registers an app, keeps its secret until dismissed and lists it first', async () => {
    const api = new FakeApi()
      .on('Apps', { apps: [app(1)] })
      .on('RegisterApp', { registerApp: { app: app(2, true), clientSecret: 'secret-2' } });
    const apps = new RegisteredApps(api);
    await apps.load();
    expect(await apps.register(appForm)).toBe(true);
    expect(api.callsTo('RegisterApp')[0]?.variables).toEqual({
      input: { name: 'Echo bot', description: null, redirectUris: ['https://bot.example/cb', 'http://127.0.0.1:8000/cb'], confidential: true },
    });
    expect(apps.registered).toEqual({ app: app(2, true), clientSecret: 'secret-2' });
    expect(apps.apps.map((a) => a.id)).toEqual(['A2', 'A1']);
    apps.dismissRegistered();
    expect(apps.registered).toBeNull();
  });

  it('does not ask the API when the form is incomplete', async () => {
    const api = new FakeApi();
    const apps = new RegisteredApps(api);
    expect(await apps.register({ ...appForm, redirectUris: ' ' })).toBe(false);
    expect(apps.formErrors.redirectUris).toBeDefined();
    expect(api.calls).toHaveLength(0);
  });

  it('puts the API’s refusal beside the field it names, or on the form', async () => {
    const api = new FakeApi().on('RegisterApp', graphQLError('BAD_USER_INPUT', 'must use https (or a loopback address)', { field: 'redirectUris' }));
    const apps = new RegisteredApps(api);
    expect(await apps.register(appForm)).toBe(false);
    expect(apps.formErrors).toEqual({ redirectUris: expect.stringMatching(/https/) });
    api.on('RegisterApp', graphQLError('RATE_LIMITED', 'slow down', { retryAfterMs: 5000 }));
    expect(await apps.register(appForm)).toBe(false);
    expect(apps.formErrors.form).toMatch(/too often/);
  });

  it('deletes an app and forgets its shown secret', async () => {
    const api = new FakeApi()
      .on('Apps', { apps: [] })
      .on('RegisterApp', { registerApp: { app: app(3, true), clientSecret: 's' } })
      .on('DeleteApp', { deleteApp: true });
    const apps = new RegisteredApps(api);
    await apps.load();
    await apps.register(appForm);
    await apps.remove('A3');
    expect(apps.apps).toEqual([]);
    expect(apps.registered).toBeNull();
    expect(api.callsTo('DeleteApp')[0]?.variables).toEqual({ id: 'A3' });
  });

  it('keeps the app when deleting is refused, and says why', async () => {
    const api = new FakeApi().on('Apps', { apps: [app(1)] }).on('DeleteApp', graphQLError('NOT_FOUND', 'No such app.'));
    const apps = new RegisteredApps(api);
    await apps.load();
    await expect(apps.remove('A1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(apps.apps).toHaveLength(1);
    expect(apps.deleting).toBeNull();
  });
});

describe('PersonalTokens', () => {
  it('wants a name and at least one scope', () => {
    expect(validateTokenForm({ name: 'bot', scopes: ['READ'], expiresInDays: 30 })).toEqual({});
    expect(Object.keys(validateTokenForm({ name: ' ', scopes: [], expiresInDays: 30 }))).toEqual(['name', 'scopes']);
  });

  it('creates a token, shows it once, lists it, and revokes it', async () => {
    const api = new FakeApi()
      .on('PersonalAccessTokens', { personalAccessTokens: [pat(1)] })
      .on('CreatePersonalAccessToken', { createPersonalAccessToken: { token: 'spaces_pat_abc', personalAccessToken: pat(2) } })
      .on('RevokePersonalAccessToken', { revokePersonalAccessToken: { id: 'T2' } });
    const tokens = new PersonalTokens(api);
    await tokens.load();
    expect(await tokens.create({ name: ' my bot ', scopes: ['READ', 'SPACES_WRITE'], expiresInDays: 90 })).toBe(true);
    expect(api.callsTo('CreatePersonalAccessToken')[0]?.variables).toEqual({
      input: { name: 'my bot', scopes: ['READ', 'SPACES_WRITE'], expiresInDays: 90 },
    });
    expect(tokens.created?.token).toBe('spaces_pat_abc');
    expect(tokens.tokens.map((t) => t.id)).toEqual(['T2', 'T1']);
    await tokens.revoke('T2');
    expect(tokens.tokens.map((t) => t.id)).toEqual(['T1']);
    expect(tokens.created).toBeNull();
  });

  it('says when the list cannot load, and loads again', async () => {
    let fail = true;
    const api = new FakeApi().on('PersonalAccessTokens', () => (fail ? new TypeError('Failed to fetch') : { personalAccessTokens: [] }));
    const tokens = new PersonalTokens(api);
    await tokens.load();
    expect(tokens.status).toBe('error');
    expect(tokens.error?.code).toBe('NETWORK');
    fail = false;
    await tokens.load();
    expect(tokens.status).toBe('ready');
    expect(tokens.error).toBeNull();
  });
});
