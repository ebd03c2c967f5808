import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS } from '../config.ts';
import { memoryLimiterStore } from '../lib/rate-limit.ts';
import { Limits } from './limits.ts';

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (e: { extensions?: { code?: string } }) => e.extensions?.code ?? String(e),
  );
const wrong = () => Promise.reject(Object.assign(new Error('wrong'), { extensions: { code: 'UNAUTHENTICATED' } }));
const right = () => Promise.resolve('token');

describe('Limits (memory store)', () => {
  it('RATE_LIMITED carries retryAfterMs within the window', async () => {
    const limits = new Limits(memoryLimiterStore(), { ...DEFAULT_RATE_LIMITS, followPerMinutePerUser: 2 });
    await limits.user('follow', 'u1');
    await limits.user('follow', 'u1');
    const error = await limits.user('follow', 'u1').catch((e: { extensions: Record<string, unknown> }) => e);
    expect(error).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    const wait = (error as { extensions: { retryAfterMs: number } }).extensions.retryAfterMs;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60_000);
    // Per user.
    await expect(limits.user('follow', 'u2')).resolves.toBeUndefined();
  });

  it('guest sessions: 10 an hour per client by default', async () => {
    const limits = new Limits(memoryLimiterStore(), DEFAULT_RATE_LIMITS);
    expect(DEFAULT_RATE_LIMITS.guestSessionsPerHourPerClient).toBe(10);
    for (let i = 0; i < 10; i++) expect(await codeOf(limits.guestSession('c1'))).toBe('OK');
    expect(await codeOf(limits.guestSession('c1'))).toBe('RATE_LIMITED');
    expect(await codeOf(limits.guestSession('c2'))).toBe('OK');
  });

  it('a known client keeps signing in while the handle is throttled for everyone else', async () => {
    const limits = new Limits(memoryLimiterStore(), {
      ...DEFAULT_RATE_LIMITS,
      signInPerMinutePerHandle: 3,
      signInPerMinutePerHandleAndClient: 2,
    });
    expect(await codeOf(limits.signIn('Ada', 'home', right))).toBe('OK');
    for (const client of ['a', 'b', 'c', 'd']) await codeOf(limits.signIn('ada', client, wrong));
    // Past the per-handle 3: new clients wait, even with the right password.
    expect(await codeOf(limits.signIn('ada', 'e', right))).toBe('RATE_LIMITED');
    // The client that signed in before does not (the handle matches in any case and spacing).
    expect(await codeOf(limits.signIn(' ADA ', 'home', right))).toBe('OK');
    // But it too has only signInPerMinutePerHandleAndClient tries a minute.
    expect(await codeOf(limits.signIn('ada', 'home', wrong))).toBe('RATE_LIMITED');
  });

  it('remembers a signed-up client as known, and bounds absurd handles in keys', async () => {
    const limits = new Limits(memoryLimiterStore(), { ...DEFAULT_RATE_LIMITS, signInPerMinutePerHandle: 1 });
    await limits.signedUp('bob', 'home');
    await codeOf(limits.signIn('bob', 'x', wrong));
    expect(await codeOf(limits.signIn('bob', 'y', right))).toBe('RATE_LIMITED');
    expect(await codeOf(limits.signIn('bob', 'home', right))).toBe('OK');
    expect(await codeOf(limits.signIn('x'.repeat(100_000), 'home', wrong))).toBe('UNAUTHENTICATED');
  });

  it('keeps a known client longer than a Node timer can wait (30 days) in memory', async () => {
    const limits = new Limits(memoryLimiterStore(), { ...DEFAULT_RATE_LIMITS, signInPerMinutePerHandle: 1 });
    await limits.signedUp('cy', 'home');
    await new Promise((r) => setTimeout(r, 20));
    await codeOf(limits.signIn('cy', 'x', wrong));
    expect(await codeOf(limits.signIn('cy', 'home', right))).toBe('OK');
  });
});
