import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { graphQLError } from '$lib/testing/fake-api';
import { MAX_NOTICES, Notices } from './notices.svelte';

describe('Notices', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('shows messages, errors in words, and lets them fade', () => {
    const notices = new Notices();
    notices.info('Joined.');
    notices.error(graphQLError('CONFLICT', 'This space has ended.'));
    expect(notices.items.map((n) => [n.kind, n.message])).toEqual([
      ['info', 'Joined.'],
      ['error', 'This space has ended.'],
    ]);
    vi.advanceTimersByTime(4_001);
    expect(notices.items.map((n) => n.kind)).toEqual(['error']);
    vi.advanceTimersByTime(4_000);
    expect(notices.items).toEqual([]);
  });

  it('shows the same message once, keeps at most three, and can be dismissed', () => {
    const notices = new Notices();
    notices.info('Same');
    notices.info('Same');
    expect(notices.items).toHaveLength(1);
    for (let i = 0; i < 10; i++) notices.info(`m${i}`);
    expect(notices.items).toHaveLength(MAX_NOTICES);
    expect(notices.items.map((n) => n.message)).toEqual(['m7', 'm8', 'm9']);
    const id = notices.items[0]!.id;
    notices.dismiss(id);
    expect(notices.items.some((n) => n.id === id)).toBe(false);
  });

  it('a notice with a key replaces the one showing with that key, in place of piling up', () => {
    const notices = new Notices();
    notices.info('Other');
    notices.success("You're a speaker now.", 'role');
    notices.info("You're back in the audience.", 'role');
    expect(notices.items.map((n) => n.message)).toEqual(['Other', "You're back in the audience."]);
    // Every one fades in its own time.
    vi.advanceTimersByTime(3_000);
    notices.info('Third', 'x');
    vi.advanceTimersByTime(1_001);
    expect(notices.items.map((n) => n.message)).toEqual(['Third']);
  });

  it('a repeated message shows once and its time starts again', () => {
    const notices = new Notices();
    notices.info('Request sent.');
    vi.advanceTimersByTime(3_000);
    notices.info('Request sent.');
    vi.advanceTimersByTime(3_000);
    expect(notices.items).toHaveLength(1);
    vi.advanceTimersByTime(1_001);
    expect(notices.items).toHaveLength(0);
  });
});
