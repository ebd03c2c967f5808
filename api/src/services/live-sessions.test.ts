import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInProcessBus } from '../pubsub.ts';
import { LiveSessions } from './live-sessions.ts';

afterEach(() => {
  vi.useRealTimers();
});

const later = (ms: number) => new Date(Date.now() + ms);

describe('LiveSessions', () => {
  it("closes a session's sockets when it is revoked (on the bus), and no others", () => {
    const bus = createInProcessBus();
    const sessions = new LiveSessions(bus.pubsub);
    const closed: string[] = [];
    sessions.track('s1', later(60_000), () => closed.push('a'));
    sessions.track('s1', later(60_000), () => closed.push('b'));
    sessions.track('s2', later(60_000), () => closed.push('c'));
    bus.pubsub.publish('session', { sessionId: 's1', at: '' });
    expect(closed).toEqual(['a', 'b']);
    expect(sessions.size).toEqual({ sessions: 1, sockets: 1 });
    sessions.close();
  });

  it('closes at once a socket whose sign-in check raced with the revocation', () => {
    const bus = createInProcessBus();
    const sessions = new LiveSessions(bus.pubsub);
    bus.pubsub.publish('session', { sessionId: 's1', at: '' });
    let closed = false;
    sessions.track('s1', later(60_000), () => (closed = true));
    expect(closed).toBe(true);
    expect(sessions.size.sockets).toBe(0);
    sessions.close();
  });

  it('closes at expiry, also past the longest timer (a 30-day session)', () => {
    vi.useFakeTimers();
    const sessions = new LiveSessions(createInProcessBus().pubsub);
    const closed: string[] = [];
    sessions.track('short', later(1_000), () => closed.push('short'));
    sessions.track('long', later(30 * 86_400_000), () => closed.push('long'));
    vi.advanceTimersByTime(999);
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(closed).toEqual(['short']);
    vi.advanceTimersByTime(25 * 86_400_000);
    expect(closed).toEqual(['short']);
    vi.advanceTimersByTime(5 * 86_400_000);
    expect(closed).toEqual(['short', 'long']);
    sessions.close();
  });

  it('forgets a socket that closed by itself; its timer goes with its last socket', () => {
    vi.useFakeTimers();
    const sessions = new LiveSessions(createInProcessBus().pubsub);
    let closed = 0;
    const forget = sessions.track('s1', later(1_000), () => closed++);
    forget();
    expect(sessions.size).toEqual({ sessions: 0, sockets: 0 });
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2_000);
    expect(closed).toBe(0);
    sessions.close();
  });
});
