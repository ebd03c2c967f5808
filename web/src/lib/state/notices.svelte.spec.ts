import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { graphQLError } from '$lib/testing/fake-api';
import { Notices } from './notices.svelte';

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

  it('shows the same message once, keeps at most five, and can be dismissed', () => {
    const notices = new Notices();
    notices.info('Same');
    notices.info('Same');
    expect(notices.items).toHaveLength(1);
    for (let i = 0; i < 10; i++) notices.info(`m${i}`);
    expect(notices.items).toHaveLength(5);
    const id = notices.items[0]!.id;
    notices.dismiss(id);
    expect(notices.items.some((n) => n.id === id)).toBe(false);
  });
});
