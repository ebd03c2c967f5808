import { describe, expect, it } from 'vitest';
import {
  canCancelSpace,
  canSetReminder,
  canUpdateSpace,
  SCHEDULE_MAX_AHEAD_DAYS,
  validateScheduledFor,
  type SpaceState,
} from './rules.ts';

const STATES: SpaceState[] = ['SCHEDULED', 'LIVE', 'ENDED'];
const code = (v: { ok: boolean; code?: string }) => (v.ok ? 'OK' : v.code);

describe('updateSpace rules', () => {
  it('the host edits title and policy until the end, the time only before the start', () => {
    const table = STATES.map((state) => [
      state,
      code(canUpdateSpace({ isHost: true }, state, { title: true, speakerPolicy: true })),
      code(canUpdateSpace({ isHost: true }, state, { scheduledFor: true })),
      code(canUpdateSpace({ isHost: false }, state, { title: true })),
    ]);
    expect(table).toEqual([
      ['SCHEDULED', 'OK', 'OK', 'FORBIDDEN'],
      ['LIVE', 'OK', 'CONFLICT', 'FORBIDDEN'],
      ['ENDED', 'CONFLICT', 'CONFLICT', 'FORBIDDEN'],
    ]);
  });
});

describe('cancelSpace and setReminder rules', () => {
  it('only a scheduled space is cancelled (by its host) or reminded of', () => {
    expect(STATES.map((s) => code(canCancelSpace({ isHost: true }, s)))).toEqual(['OK', 'CONFLICT', 'CONFLICT']);
    expect(STATES.map((s) => code(canCancelSpace({ isHost: false }, s)))).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
    expect(STATES.map((s) => code(canSetReminder(s)))).toEqual(['OK', 'CONFLICT', 'CONFLICT']);
  });
});

describe('validateScheduledFor', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  it(`takes a future time at most ${SCHEDULE_MAX_AHEAD_DAYS} days ahead`, () => {
    expect(validateScheduledFor(new Date(now + 60_000), now).ok).toBe(true);
    expect(validateScheduledFor(new Date(now + SCHEDULE_MAX_AHEAD_DAYS * 86_400_000), now).ok).toBe(true);
    expect(validateScheduledFor(new Date(now + SCHEDULE_MAX_AHEAD_DAYS * 86_400_000 + 1), now)).toMatchObject({ ok: false });
    expect(validateScheduledFor(new Date(now), now)).toEqual({ ok: false, reason: 'must be in the future' });
    expect(validateScheduledFor(new Date(now - 1), now).ok).toBe(false);
    expect(validateScheduledFor(new Date(Number.NaN), now).ok).toBe(false);
  });
});
