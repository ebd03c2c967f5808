import { describe, expect, it } from 'vitest';
import {
  canModerate,
  canRequestToSpeak,
  canSetRole,
  canUnmute,
  isEligibleToSpeak,
  isHeardAtMixer,
  moderationChoices,
  mustLeaveStage,
  mutedByMuteAll,
  ROLE_ORDER,
  speakRefusal,
  STAGE_ROLES,
  validateTitle,
  type Role,
  type SpeakerPolicy,
} from './rules.ts';

const POLICIES: SpeakerPolicy[] = ['EVERYONE', 'FOLLOWING', 'INVITED'];
const ROLES: Role[] = ['HOST', 'CO_HOST', 'SPEAKER', 'LISTENER'];

describe('isEligibleToSpeak', () => {
  it('follows the policy table, and an invitation admits anyone', () => {
    const table = POLICIES.map((policy) =>
      [false, true].flatMap((hostFollows) =>
        [false, true].map((invited) => isEligibleToSpeak({ policy, hostFollows, invited })),
      ),
    );
    // [notFollowed+notInvited, notFollowed+invited, followed+notInvited, followed+invited]
    expect(table).toEqual([
      [true, true, true, true],
      [false, true, true, true],
      [false, true, false, true],
    ]);
  });

  it('moves only speakers off stage when eligibility ends', () => {
    const gone = { policy: 'INVITED' as const, hostFollows: false, invited: false };
    expect(ROLES.map((r) => mustLeaveStage(r, gone))).toEqual([false, false, true, false]);
  });
});

describe('canModerate', () => {
  const verdict = (actor: Role | null, target: Role | null, self = false) =>
    canModerate({ userId: 'a', role: actor }, { userId: self ? 'a' : 'b', role: target });

  it('authorises per target: nobody acts on the host, co-hosts not on each other', () => {
    const grid = ROLES.map((actor) => ROLES.map((target) => verdict(actor, target).ok));
    expect(grid).toEqual([
      [false, true, true, true], // host
      [false, false, true, true], // co-host
      [false, false, false, false], // speaker
      [false, false, false, false], // listener
    ]);
    expect(verdict('HOST', 'HOST', true).ok).toBe(false);
    expect(verdict(null, 'LISTENER').ok).toBe(false);
  });
});

describe('canSetRole', () => {
  const counts = { coHosts: 0, speakers: 0 };
  const target = { userId: 't', role: 'LISTENER' as Role, handRaised: true, invited: false, eligible: true };

  it('lets a moderator approve an eligible raised hand, but not an ineligible or silent one', () => {
    expect(canSetRole({ userId: 'h', role: 'HOST' }, target, 'SPEAKER', counts).ok).toBe(true);
    expect(canSetRole({ userId: 'h', role: 'HOST' }, { ...target, eligible: false }, 'SPEAKER', counts)).toMatchObject({ code: 'FORBIDDEN' });
    expect(canSetRole({ userId: 'h', role: 'HOST' }, { ...target, handRaised: false }, 'SPEAKER', counts)).toMatchObject({ code: 'FORBIDDEN' });
    expect(canSetRole({ userId: 'h', role: 'HOST' }, { ...target, handRaised: false, invited: true }, 'SPEAKER', counts).ok).toBe(true);
  });

  it('enforces stage limits with CONFLICT', () => {
    expect(canSetRole({ userId: 'h', role: 'HOST' }, target, 'SPEAKER', { coHosts: 0, speakers: 10 })).toMatchObject({ code: 'CONFLICT' });
    expect(canSetRole({ userId: 'h', role: 'HOST' }, target, 'CO_HOST', { coHosts: 2, speakers: 0 })).toMatchObject({ code: 'CONFLICT' });
    expect(canSetRole({ userId: 'h', role: 'HOST' }, target, 'CO_HOST', { coHosts: 1, speakers: 0 }).ok).toBe(true);
  });

  it('keeps co-host appointments to the host, and never hands out HOST', () => {
    expect(canSetRole({ userId: 'c', role: 'CO_HOST' }, target, 'CO_HOST', counts)).toMatchObject({ code: 'FORBIDDEN' });
    expect(canSetRole({ userId: 'h', role: 'HOST' }, target, 'HOST', counts)).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('lets anyone but the host step down', () => {
    for (const role of ['CO_HOST', 'SPEAKER'] as Role[])
      expect(canSetRole({ userId: 'x', role }, { ...target, userId: 'x', role }, 'LISTENER', counts).ok).toBe(true);
    expect(canSetRole({ userId: 'h', role: 'HOST' }, { ...target, userId: 'h', role: 'HOST' }, 'LISTENER', counts).ok).toBe(false);
  });
});

describe('speaking and the mixer', () => {
  it('lets only eligible listeners ask, and only stage roles unmute', () => {
    const f = { policy: 'FOLLOWING' as const, hostFollows: false, invited: false };
    expect(canRequestToSpeak('LISTENER', f)).toMatchObject({ code: 'FORBIDDEN' });
    expect(canRequestToSpeak('LISTENER', { ...f, hostFollows: true }).ok).toBe(true);
    expect(canRequestToSpeak('SPEAKER', { ...f, hostFollows: true })).toMatchObject({ code: 'CONFLICT' });
    expect(canRequestToSpeak(null, f)).toMatchObject({ code: 'CONFLICT' });
    expect(ROLES.map((r) => canUnmute(r).ok)).toEqual([true, true, true, false]);
  });

  it('hears a participant only on stage, present and unmuted', () => {
    expect(ROLES.map((role) => isHeardAtMixer({ role, muted: false, present: true }))).toEqual([true, true, true, false]);
    expect(isHeardAtMixer({ role: 'SPEAKER', muted: true, present: true })).toBe(false);
    expect(isHeardAtMixer({ role: 'HOST', muted: false, present: false })).toBe(false);
  });
});

describe('validateTitle', () => {
  it('trims, folds spaces and bounds the length in characters', () => {
    expect(validateTitle('  Hello   world ')).toEqual({ ok: true, title: 'Hello world' });
    expect(validateTitle('   ').ok).toBe(false);
    expect(validateTitle('🎙️'.repeat(50)).ok).toBe(true);
    expect(validateTitle('x'.repeat(101)).ok).toBe(false);
  });
});

describe('for the web client (issue 11)', () => {
  it('offers moderation choices by canModerate: nothing on the host, self or a fellow co-host', () => {
    const listener = { userId: 'l', role: 'LISTENER' as const, muted: true, handRaised: false };
    const raised = { ...listener, handRaised: true };
    const speaker = { userId: 's', role: 'SPEAKER' as const, muted: false, handRaised: false };
    const cohost = { userId: 'c', role: 'CO_HOST' as const, muted: false, handRaised: false };
    const host = { userId: 'h', role: 'HOST' as const, muted: false, handRaised: false };
    const none = Object.values(moderationChoices({ userId: 'c2', role: 'CO_HOST' }, cohost));
    expect(none.some(Boolean)).toBe(false);
    expect(Object.values(moderationChoices({ userId: 'c', role: 'CO_HOST' }, host)).some(Boolean)).toBe(false);
    expect(Object.values(moderationChoices({ userId: 's', role: 'SPEAKER' }, listener)).some(Boolean)).toBe(false);
    expect(moderationChoices({ userId: 'h', role: 'HOST' }, speaker)).toEqual({
      mute: true,
      takeOffStage: true,
      makeSpeaker: false,
      makeCoHost: true,
      inviteToSpeak: false,
      remove: true,
    });
    expect(moderationChoices({ userId: 'h', role: 'HOST' }, raised)).toMatchObject({ makeSpeaker: true, inviteToSpeak: false });
    expect(moderationChoices({ userId: 'c', role: 'CO_HOST' }, listener)).toMatchObject({ inviteToSpeak: true, makeCoHost: false });
  });

  it('"mute all" mutes open-mic speakers only; stage roles sort host first', () => {
    expect(ROLES.map((role) => mutedByMuteAll({ role, muted: false }))).toEqual([false, false, true, false]);
    expect(mutedByMuteAll({ role: 'SPEAKER', muted: true })).toBe(false);
    expect([...STAGE_ROLES].sort((a, b) => ROLE_ORDER[a] - ROLE_ORDER[b])).toEqual(['HOST', 'CO_HOST', 'SPEAKER']);
  });

  it('says why a listener may not ask to speak: removed, guest, then the policy', () => {
    const base = { isGuest: false, removed: false, policy: 'EVERYONE' as SpeakerPolicy, eligible: true };
    expect(speakRefusal(base)).toBeNull();
    expect(speakRefusal({ ...base, removed: true, isGuest: true })).toBe('REMOVED');
    expect(speakRefusal({ ...base, isGuest: true })).toBe('GUEST');
    expect(speakRefusal({ ...base, policy: 'FOLLOWING', eligible: false })).toBe('POLICY_FOLLOWING');
    expect(speakRefusal({ ...base, policy: 'INVITED', eligible: false })).toBe('POLICY_INVITED');
  });
});
