import { describe, expect, it } from 'vitest';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { Session, validateSignUp } from './session.svelte';

const ada = { id: 'U1', handle: 'ada', displayName: 'Ada', isGuest: false };

describe('Session', () => {
  it('loads the viewer the cookie stands for', async () => {
    const api = new FakeApi().on('Viewer', { viewer: ada });
    const session = new Session(api);
    expect(session.status).toBe('loading');
    await session.load();
    expect(session.status).toBe('ready');
    expect(session.viewer).toEqual(ada);
    expect(session.signedIn).toBe(true);
  });

  it('is ready and signed out without a session', async () => {
    const session = new Session(new FakeApi().on('Viewer', { viewer: null }));
    await session.load();
    expect(session.status).toBe('ready');
    expect(session.signedIn).toBe(false);
  });

  it('reports a network failure as an error with words', async () => {
    const session = new Session(new FakeApi().on('Viewer', Object.assign(new Error('x'), { networkError: new Error('down') })));
    await session.load();
    expect(session.status).toBe('error');
    expect(session.error?.message).toMatch(/Can't reach Spaces/);
  });

  it('signs in, trims the handle, and reopens the socket with the new cookie', async () => {
    const api = new FakeApi().on('SignIn', { signIn: { user: ada } });
    const session = new Session(api);
    await session.signIn('  ada ', 'pw');
    expect(api.callsTo('SignIn')[0]?.variables).toEqual({ input: { handle: 'ada', password: 'pw' } });
    expect(session.viewer).toEqual(ada);
    expect(api.resets).toBe(1);
  });

  it('signs up; a taken handle comes back as a CONFLICT in words', async () => {
    const api = new FakeApi().on('SignUp', graphQLError('CONFLICT', 'The handle "ada" is taken.'));
    const session = new Session(api);
    await expect(session.signUp({ handle: 'ada', displayName: 'Ada', password: 'longenough' })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: 'The handle "ada" is taken.',
    });
    expect(session.viewer).toBeNull();
    api.on('SignUp', { signUp: { user: ada } });
    await session.signUp({ handle: 'ada', displayName: ' Ada ', password: 'longenough' });
    expect(api.callsTo('SignUp')[1]?.variables).toEqual({
      input: { handle: 'ada', displayName: 'Ada', password: 'longenough' },
    });
    expect(session.signedIn).toBe(true);
  });

  it('signs out: forgets the viewer even if the request fails', async () => {
    const api = new FakeApi().on('SignIn', { signIn: { user: ada } }).on('SignOut', new TypeError('Failed to fetch'));
    const session = new Session(api);
    await session.signIn('ada', 'pw');
    await expect(session.signOut()).rejects.toMatchObject({ code: 'NETWORK' });
    expect(session.viewer).toBeNull();
    expect(api.resets).toBe(2);
  });

  it('starts a guest session: a listener-only viewer, and the socket reopens with its cookie', async () => {
    const guest = { id: 'U9', handle: 'guest_abcdefghi', displayName: 'Guest', isGuest: true };
    const api = new FakeApi().on('StartGuestSession', { startGuestSession: { user: guest } });
    const session = new Session(api);
    expect(session.isGuest).toBe(false);
    await session.startGuest();
    expect(api.callsTo('StartGuestSession')).toHaveLength(1);
    expect(session.viewer).toEqual(guest);
    expect(session.signedIn).toBe(true);
    expect(session.isGuest).toBe(true);
    expect(session.hasAccount).toBe(false);
    expect(api.resets).toBe(1);
  });

  it('a rate-limited guest session start comes back as an AppError and leaves the visitor signed out', async () => {
    const api = new FakeApi().on('StartGuestSession', graphQLError('RATE_LIMITED', 'Too many requests; retry in 60 s.'));
    const session = new Session(api);
    await expect(session.startGuest()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(session.signedIn).toBe(false);
  });

  it('signing in from a guest session makes an account viewer', async () => {
    const api = new FakeApi()
      .on('StartGuestSession', { startGuestSession: { user: { id: 'U9', handle: 'guest_x', displayName: 'Guest', isGuest: true } } })
      .on('SignIn', { signIn: { user: { ...ada, isGuest: false } } });
    const session = new Session(api);
    await session.startGuest();
    await session.signIn('ada', 'pw');
    expect(session.isGuest).toBe(false);
    expect(session.hasAccount).toBe(true);
  });

  it('expired() drops a viewer whose session the server no longer knows', async () => {
    const api = new FakeApi().on('Viewer', { viewer: ada });
    const session = new Session(api);
    await session.load();
    session.expired();
    expect(session.signedIn).toBe(false);
    session.expired();
    expect(api.resets).toBe(1);
  });
});

describe('validateSignUp', () => {
  it('checks the API rules before asking it', () => {
    expect(validateSignUp({ handle: 'ada_1', displayName: 'Ada', password: '12345678' })).toEqual({});
    expect(validateSignUp({ handle: 'a!', displayName: ' ', password: 'short' })).toEqual({
      handle: 'Use 3–15 letters, digits or underscores.',
      displayName: 'Enter the name people will see.',
      password: 'Use at least 8 characters.',
    });
    expect(validateSignUp({ handle: 'abcdefghijklmnop', displayName: 'x'.repeat(51), password: 'x'.repeat(257) })).toEqual({
      handle: 'Use 3–15 letters, digits or underscores.',
      displayName: 'Use at most 50 characters.',
      password: 'Use at most 256 characters.',
    });
  });
});
