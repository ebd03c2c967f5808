import { describe, expect, it } from 'vitest';
import { canReplyToFleet, REPLY_POLICIES, replyRefusal, type ReplyRefusal } from './rules.ts';

/** Who may reply to a fleet: every relation between replier and author × every policy. */
describe('replyRefusal', () => {
  const relations = {
    // The replier follows the author, who does not follow back: the author's choice is what counts.
    followsAuthor: { authorFollows: false, isAuthor: false, isGuest: false, signedIn: true },
    followedByAuthor: { authorFollows: true, isAuthor: false, isGuest: false, signedIn: true },
    mutual: { authorFollows: true, isAuthor: false, isGuest: false, signedIn: true },
    none: { authorFollows: false, isAuthor: false, isGuest: false, signedIn: true },
    self: { authorFollows: false, isAuthor: true, isGuest: false, signedIn: true },
    guest: { authorFollows: true, isAuthor: false, isGuest: true, signedIn: true },
    signedOut: { authorFollows: false, isAuthor: false, isGuest: false, signedIn: false },
  } as const;
  const expected: Record<keyof typeof relations, Record<(typeof REPLY_POLICIES)[number], ReplyRefusal | null>> = {
    followsAuthor: { EVERYONE: null, FOLLOWING: 'NOT_FOLLOWED', NOBODY: 'NOBODY' },
    followedByAuthor: { EVERYONE: null, FOLLOWING: null, NOBODY: 'NOBODY' },
    mutual: { EVERYONE: null, FOLLOWING: null, NOBODY: 'NOBODY' },
    none: { EVERYONE: null, FOLLOWING: 'NOT_FOLLOWED', NOBODY: 'NOBODY' },
    self: { EVERYONE: 'OWN', FOLLOWING: 'OWN', NOBODY: 'OWN' },
    guest: { EVERYONE: 'GUEST', FOLLOWING: 'GUEST', NOBODY: 'GUEST' },
    signedOut: { EVERYONE: 'SIGNED_OUT', FOLLOWING: 'SIGNED_OUT', NOBODY: 'SIGNED_OUT' },
  };

  it('follows the matrix, and canReplyToFleet agrees (FORBIDDEN exactly when refused)', () => {
    for (const [relation, facts] of Object.entries(relations))
      for (const policy of REPLY_POLICIES) {
        const refusal = replyRefusal({ ...facts, policy });
        expect(refusal, `${relation} × ${policy}`).toBe(expected[relation as keyof typeof relations][policy]);
        const verdict = canReplyToFleet({ ...facts, policy });
        expect(verdict.ok, `${relation} × ${policy}`).toBe(refusal === null);
        if (!verdict.ok) expect(verdict.code).toBe('FORBIDDEN');
      }
  });
});
