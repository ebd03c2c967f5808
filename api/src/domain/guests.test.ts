import { describe, expect, it } from 'vitest';
import { canMarkHandsSeen, canTarget, GUEST_MUTATIONS, guestMayUse } from './rules.ts';

describe('guestMayUse', () => {
  it('allows every query, the listener mutations and spaceEvents', () => {
    expect(guestMayUse('query', 'viewer')).toEqual({ ok: true });
    expect(guestMayUse('query', 'anythingNew')).toEqual({ ok: true });
    for (const m of GUEST_MUTATIONS) expect(guestMayUse('mutation', m), m).toEqual({ ok: true });
    expect(guestMayUse('subscription', 'spaceEvents')).toEqual({ ok: true });
  });

  it('refuses everything else with reason GUEST, new fields included', () => {
    for (const [kind, field] of [
      ['mutation', 'requestToSpeak'],
      ['mutation', 'createSpace'],
      ['mutation', 'follow'],
      ['mutation', 'someFutureMutation'],
      ['subscription', 'spacesBar'],
      ['subscription', 'notifications'],
    ] as const)
      expect(guestMayUse(kind, field), field).toMatchObject({ ok: false, code: 'FORBIDDEN', reason: 'GUEST' });
  });

  it('points connectAudio to listenAudio (CONFLICT)', () => {
    expect(guestMayUse('mutation', 'connectAudio')).toMatchObject({ ok: false, code: 'CONFLICT', useInstead: 'listenAudio' });
  });
});

describe('canTarget', () => {
  it('never follows, invites or stages a guest; anyone else is fine', () => {
    for (const action of ['follow', 'invite', 'stage'] as const) {
      expect(canTarget({ isGuest: true }, action)).toMatchObject({ ok: false, code: 'FORBIDDEN' });
      expect(canTarget({ isGuest: false }, action)).toEqual({ ok: true });
    }
  });
});

describe('canMarkHandsSeen', () => {
  it('is for the host and co-hosts', () => {
    expect(canMarkHandsSeen('HOST').ok).toBe(true);
    expect(canMarkHandsSeen('CO_HOST').ok).toBe(true);
    expect(canMarkHandsSeen('SPEAKER')).toMatchObject({ ok: false, code: 'FORBIDDEN' });
    expect(canMarkHandsSeen('LISTENER')).toMatchObject({ ok: false, code: 'FORBIDDEN' });
    expect(canMarkHandsSeen(null)).toMatchObject({ ok: false, code: 'CONFLICT' });
  });
});
