import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { must, openSpace, Q, users, type Cast, type Policy, type U } from '../support/spaces.ts';

/**
 * Every space mutation × every kind of actor × every speaker policy: the allowed results and
 * the error codes. Each cell runs on a fresh space so one cell's effect cannot hide another's.
 */
let t: TestApp;
let cast: Cast;
beforeAll(async () => {
  t = await startTestApp();
  const [host, coHost, speaker, listener, target, removed, outsider] = await users(t, 7, 'mx');
  cast = { host: host!, coHost: coHost!, speaker: speaker!, listener: listener!, target: target!, removed: removed!, outsider: outsider! };
  await must(t, Q.follow, { u: cast.target.id }, cast.host);
});
afterAll(() => t?.close());

type Actor = keyof Cast | 'signedOut';
const ACTORS: Actor[] = ['host', 'coHost', 'speaker', 'listener', 'outsider', 'removed', 'signedOut'];
type Outcome = 'OK' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'CONFLICT' | 'NOT_FOUND' | 'BAD_USER_INPUT';

interface Op {
  name: string;
  query: string;
  vars: (s: string, c: Cast) => Record<string, unknown>;
  expect: (actor: Actor, policy: Policy) => Outcome;
}

const moderator = (a: Actor) => a === 'host' || a === 'coHost';
/** The answer for actors outside the space: signed out, removed, never joined. */
const outside = (a: Actor, outsider: Outcome = 'CONFLICT'): Outcome | null =>
  a === 'signedOut' ? 'UNAUTHENTICATED' : a === 'removed' ? 'FORBIDDEN' : a === 'outsider' ? outsider : null;
const modOnly = (a: Actor): Outcome => (a === 'signedOut' ? 'UNAUTHENTICATED' : moderator(a) ? 'OK' : 'FORBIDDEN');
const hostOnly = (a: Actor, ok: Outcome = 'OK'): Outcome => (a === 'signedOut' ? 'UNAUTHENTICATED' : a === 'host' ? ok : 'FORBIDDEN');

const OPS: Op[] = [
  { name: 'startSpace (already live)', query: Q.start, vars: (s) => ({ s }), expect: (a) => hostOnly(a, 'CONFLICT') },
  { name: 'endSpace', query: Q.end, vars: (s) => ({ s }), expect: (a) => hostOnly(a) },
  { name: 'setSpeakerPolicy', query: Q.policy, vars: (s) => ({ s, p: 'EVERYONE' }), expect: (a) => hostOnly(a) },
  {
    name: 'joinSpace',
    query: Q.join,
    vars: (s) => ({ s }),
    expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : a === 'removed' ? 'FORBIDDEN' : 'OK'),
  },
  { name: 'leaveSpace', query: Q.leave, vars: (s) => ({ s }), expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : 'OK') },
  {
    name: 'requestToSpeak',
    query: Q.raise,
    vars: (s) => ({ s, r: true }),
    expect: (a, p) =>
      outside(a) ?? (a === 'listener' ? (p === 'EVERYONE' ? 'OK' : 'FORBIDDEN') : 'CONFLICT' /* already on stage */),
  },
  {
    name: 'lower hand',
    query: Q.raise,
    vars: (s) => ({ s, r: false }),
    expect: (a) => outside(a) ?? 'OK',
  },
  { name: 'inviteSpeaker', query: Q.invite, vars: (s, c) => ({ s, u: c.outsider.id }), expect: (a) => modOnly(a) },
  { name: 'revokeSpeakerInvite', query: Q.revoke, vars: (s, c) => ({ s, u: c.speaker.id }), expect: (a) => modOnly(a) },
  {
    name: 'acceptSpeakerInvite',
    query: Q.accept,
    vars: (s) => ({ s }),
    // On stage already: a no-op. A listener who was not invited may not.
    expect: (a) => outside(a) ?? (a === 'listener' ? 'FORBIDDEN' : 'OK'),
  },
  {
    name: 'setParticipantRole SPEAKER (raised hand, followed by host)',
    query: Q.role,
    vars: (s, c) => ({ s, u: c.target.id, role: 'SPEAKER' }),
    expect: (a, p) => (modOnly(a) === 'OK' ? (p === 'INVITED' ? 'FORBIDDEN' : 'OK') : modOnly(a)),
  },
  {
    name: 'setParticipantRole SPEAKER (listener who never asked)',
    query: Q.role,
    vars: (s, c) => ({ s, u: c.listener.id, role: 'SPEAKER' }),
    expect: (a) => (a === 'listener' ? 'FORBIDDEN' : modOnly(a) === 'OK' ? 'FORBIDDEN' : modOnly(a)),
  },
  {
    name: 'setParticipantRole CO_HOST',
    query: Q.role,
    vars: (s, c) => ({ s, u: c.listener.id, role: 'CO_HOST' }),
    expect: (a) => hostOnly(a),
  },
  {
    name: 'setParticipantRole LISTENER on the speaker',
    query: Q.role,
    vars: (s, c) => ({ s, u: c.speaker.id, role: 'LISTENER' }),
    // The speaker may step down themselves.
    expect: (a) => (a === 'speaker' ? 'OK' : modOnly(a)),
  },
  {
    name: 'setParticipantRole LISTENER on the host',
    query: Q.role,
    vars: (s, c) => ({ s, u: c.host.id, role: 'LISTENER' }),
    expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : 'FORBIDDEN'),
  },
  {
    name: 'setParticipantRole LISTENER on the co-host',
    query: Q.role,
    vars: (s, c) => ({ s, u: c.coHost.id, role: 'LISTENER' }),
    // Only the host, or the co-host stepping down.
    expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : a === 'host' || a === 'coHost' ? 'OK' : 'FORBIDDEN'),
  },
  {
    name: 'setParticipantRole HOST',
    query: Q.role,
    vars: (s, c) => ({ s, u: c.speaker.id, role: 'HOST' }),
    expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : moderator(a) ? 'BAD_USER_INPUT' : 'FORBIDDEN'),
  },
  {
    name: 'setMuted false (unmute self)',
    query: Q.setMuted,
    vars: (s) => ({ s, m: false }),
    expect: (a) => outside(a) ?? (a === 'listener' ? 'FORBIDDEN' : 'OK'),
  },
  { name: 'setMuted true (mute self)', query: Q.setMuted, vars: (s) => ({ s, m: true }), expect: (a) => outside(a) ?? 'OK' },
  { name: 'muteParticipant speaker', query: Q.mute, vars: (s, c) => ({ s, u: c.speaker.id }), expect: (a) => modOnly(a) },
  {
    name: 'muteParticipant host',
    query: Q.mute,
    vars: (s, c) => ({ s, u: c.host.id }),
    expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : 'FORBIDDEN'),
  },
  {
    name: 'muteParticipant co-host',
    query: Q.mute,
    vars: (s, c) => ({ s, u: c.coHost.id }),
    expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : a === 'host' ? 'OK' : 'FORBIDDEN'),
  },
  { name: 'muteAll', query: Q.muteAll, vars: (s) => ({ s }), expect: (a) => modOnly(a) },
  { name: 'removeParticipant listener', query: Q.remove, vars: (s, c) => ({ s, u: c.target.id }), expect: (a) => modOnly(a) },
  {
    name: 'removeParticipant host',
    query: Q.remove,
    vars: (s, c) => ({ s, u: c.host.id }),
    expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : 'FORBIDDEN'),
  },
  { name: 'react', query: Q.react, vars: (s) => ({ s, e: '🔥' }), expect: (a) => outside(a) ?? 'OK' },
  {
    name: 'updateSpace title (live)',
    query: `mutation($s: ID!) { updateSpace(spaceId: $s, input: { title: "Renamed" }) { id } }`,
    vars: (s) => ({ s }),
    expect: (a) => hostOnly(a),
  },
  {
    name: 'updateSpace scheduledFor (live)',
    query: `mutation($s: ID!, $when: DateTime!) { updateSpace(spaceId: $s, input: { scheduledFor: $when }) { id } }`,
    vars: (s) => ({ s, when: new Date(Date.now() + 3_600_000).toISOString() }),
    expect: (a) => hostOnly(a, 'CONFLICT'),
  },
  {
    name: 'cancelSpace (live)',
    query: `mutation($s: ID!) { cancelSpace(spaceId: $s) { id } }`,
    vars: (s) => ({ s }),
    expect: (a) => hostOnly(a, 'CONFLICT'),
  },
  {
    name: 'setReminder (live)',
    query: `mutation($s: ID!) { setReminder(spaceId: $s, on: true) { id } }`,
    vars: (s) => ({ s }),
    expect: (a) => (a === 'signedOut' ? 'UNAUTHENTICATED' : 'CONFLICT'),
  },
];

const POLICIES: Policy[] = ['EVERYONE', 'FOLLOWING', 'INVITED'];

describe.each(POLICIES)('policy %s', (policy) => {
  it.each(OPS.map((op) => [op.name, op] as const))('%s', async (_name, op) => {
    const table: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const actor of ACTORS) {
      const s = await openSpace(t, cast, policy);
      const user: U | undefined = actor === 'signedOut' ? undefined : cast[actor];
      const r = await t.gql(op.query, op.vars(s, cast), { token: user?.token });
      table[actor] = r.errors ? String(r.errors[0]!.extensions?.code) : 'OK';
      expected[actor] = op.expect(actor, policy);
      // Close the space so the host can open the next one (unless the cell ended it).
      await t.gql(Q.end, { s }, { token: cast.host.token });
    }
    expect(table).toEqual(expected);
  });
});
