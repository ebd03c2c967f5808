import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { schema } from '@spaces/api';
import { GUEST_MUTATIONS, GUEST_SUBSCRIPTIONS, GUEST_USE_INSTEAD } from '@spaces/api/rules';
import { participants, sessions, users as usersTable } from '@spaces/db';
import { codes, startTestApp, TEST_APP_RATE_LIMITS, type TestApp } from '../support/app.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { subscribe, wsClient } from '../support/ws.ts';
import { rootFieldCall } from '../support/field-calls.ts';

/**
 * Signed-out listening: guest accounts (startGuestSession) are listeners and nothing more, and
 * markHandsSeen. Real PostgreSQL; the guest rule is checked against the served schema, so a new
 * mutation is covered (and must be decided on) as soon as it exists.
 */
let t: TestApp;
let base: string;
beforeAll(async () => {
  // startTestApp's own limits (many users from one in-process client), and room for guests.
  t = await startTestApp({
    rateLimits: { ...TEST_APP_RATE_LIMITS, guestSessionsPerHourPerClient: 1_000 },
  });
  base = await t.app.start();
});
afterAll(() => t?.close());

const START_GUEST = `mutation { startGuestSession { token user { id handle displayName isGuest } } }`;
const VIEWER = `{ viewer { id handle displayName isGuest } }`;

async function guest(app: TestApp = t): Promise<U & { displayName: string }> {
  const r = await app.gql(START_GUEST);
  if (!r.data?.startGuestSession) throw new Error(`startGuestSession failed: ${JSON.stringify(r.errors)}`);
  const { token, user } = r.data.startGuestSession;
  return { id: user.id, token, handle: user.handle, displayName: user.displayName };
}

async function liveSpace(host: U, policy = 'EVERYONE') {
  const { createSpace } = await must(t, Q.create, { input: { title: 'Guests welcome', speakerPolicy: policy } }, host);
  return createSpace.id as string;
}

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1]!;

/**
 * Every mutation a guest may not use, each decided on purpose. A mutation added to the schema
 * without a decision here (or in the rules' GUEST_MUTATIONS) fails the first test below.
 */
const DECIDED_FORBIDDEN = [
  'acceptSpeakerInvite',
  // Tokens and apps (issue 13): the PWA's own non-guest sign-in only.
  'approveAuthorization',
  'createPersonalAccessToken',
  'deleteApp',
  'denyAuthorization',
  'registerApp',
  'revokeAppAuthorization',
  'revokePersonalAccessToken',
  'cancelSpace',
  'createSpace',
  'deleteFleet',
  'endSpace',
  'follow',
  'inviteSpeaker',
  'markFleetSeen',
  'markHandsSeen',
  'markNotificationsRead',
  'muteAll',
  'muteParticipant',
  'postFleet',
  'react',
  'removeAvatar',
  'removeParticipant',
  'replyToFleet',
  'requestToSpeak',
  'revokeSpeakerInvite',
  'setDefaultReplyPolicy',
  'setMuted',
  'setParticipantRole',
  'setReminder',
  'setSpeakerPolicy',
  'startGuestSession',
  'startSpace',
  'unfollow',
  'updateProfile',
  'updateSpace',
];

/** Subscriptions a guest may not use, decided on purpose (as DECIDED_FORBIDDEN). */
const DECIDED_FORBIDDEN_SUBSCRIPTIONS = ['fleetsBar', 'notifications', 'spacesBar'];

/** A call of one Mutation field (the guest check runs before any resolver: any id will do). */
const callOf = (fieldName: string, spaceId: string) => rootFieldCall('mutation', schema.getMutationType()!, fieldName, spaceId);

describe('guest sessions', () => {
  it('start signed out: a guest account with its session, cookie and 24-hour expiry', async () => {
    const r = await t.gql(START_GUEST);
    expect(r.errors).toBeUndefined();
    const { token, user } = r.data!.startGuestSession;
    expect(user.isGuest).toBe(true);
    expect(user.displayName).toBe('Guest');
    expect(user.handle).toMatch(/^guest_[a-z2-7]{9}$/);
    expect(r.headers.get('set-cookie') ?? '').toMatch(/HttpOnly/i);
    // The cookie lasts as long as the guest session: a day, not a signed-in session's 30 days.
    expect(r.headers.get('set-cookie') ?? '').toMatch(/Max-Age=86400\b/);

    const me = await t.gql(VIEWER, {}, { token });
    expect(me.data!.viewer).toMatchObject({ id: user.id, isGuest: true, displayName: 'Guest' });

    const db = t.app.services.db;
    const [session] = await db.select().from(sessions).where(eq(sessions.userId, uuidOf(user.id)));
    const hours = (session!.expiresAt.getTime() - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
  });

  it('are for signed-out visitors only, and a guest handle cannot be signed in to or signed up', async () => {
    const [member] = await users(t, 1, 'gm');
    const r = await t.gql(START_GUEST, {}, { token: member!.token });
    expect(codes(r)).toEqual(['CONFLICT']);

    const g = await guest();
    const signIn = await t.gql(`mutation($i: SignInInput!) { signIn(input: $i) { token } }`, {
      i: { handle: g.handle, password: '!guest' },
    });
    expect(codes(signIn)).toEqual(['UNAUTHENTICATED']);
    expect(signIn.errors![0]!.extensions!.reason).toBe('WRONG_CREDENTIALS');
    const signUp = await t.gql(`mutation($i: SignUpInput!) { signUp(input: $i) { token } }`, {
      i: { handle: 'guest_mine', displayName: 'Sneaky', password: 'long enough password' },
    });
    expect(codes(signUp)).toEqual(['BAD_USER_INPUT']);
    expect(signUp.errors![0]!.extensions!.field).toBe('handle');
  });

  it('are rate limited per client: 10 an hour', async () => {
    const limited = await startTestApp({ trustProxy: { addresses: ['127.0.0.0/8', '::1/128'] } });
    try {
      const limitedBase = await limited.app.start();
      const from = async (address: string) => {
        const response = await fetch(`${limitedBase}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
          body: JSON.stringify({ query: START_GUEST }),
        });
        return (await response.json()) as { data?: unknown; errors?: { extensions: Record<string, unknown> }[] };
      };
      const results = [];
      for (let i = 0; i < 11; i++) results.push(await from('198.51.100.7'));
      expect(results.slice(0, 10).every((r) => !r.errors)).toBe(true);
      expect(results[10]!.errors?.[0]?.extensions.code).toBe('RATE_LIMITED');
      expect(results[10]!.errors?.[0]?.extensions.retryAfterMs).toBeGreaterThan(0);
      // Another client is not affected.
      expect((await from('198.51.100.8')).errors).toBeUndefined();
    } finally {
      await limited.close();
    }
  });
});

describe('what a guest may do', () => {
  it('every mutation is decided: allowed to guests by the rules, or forbidden on purpose', () => {
    const all = Object.keys(schema.getMutationType()!.getFields()).sort();
    const decided = [...GUEST_MUTATIONS, ...Object.keys(GUEST_USE_INSTEAD), ...DECIDED_FORBIDDEN].sort();
    expect(all).toEqual(decided);
  });

  it('every subscription is decided too', () => {
    const all = Object.keys(schema.getSubscriptionType()!.getFields()).sort();
    expect(all).toEqual([...GUEST_SUBSCRIPTIONS, ...DECIDED_FORBIDDEN_SUBSCRIPTIONS].sort());
  });

  it('every other mutation is FORBIDDEN with reason GUEST; connectAudio says to use listenAudio', async () => {
    const [host] = await users(t, 1, 'gh');
    const s = await liveSpace(host!);
    const g = await guest();
    const allowed = new Set<string>([...GUEST_MUTATIONS]);
    const forbidden = Object.keys(schema.getMutationType()!.getFields()).filter((name) => !allowed.has(name));
    expect(forbidden.length).toBeGreaterThan(15);
    for (const name of forbidden) {
      const { query, variables } = callOf(name, s);
      const r = await t.gql(query, variables, { token: g.token });
      if (GUEST_USE_INSTEAD[name]) {
        expect(codes(r), name).toEqual(['CONFLICT']);
        expect(r.errors![0]!.extensions!.useInstead, name).toBe(GUEST_USE_INSTEAD[name]);
      } else {
        expect(codes(r), name).toEqual(['FORBIDDEN']);
        expect(r.errors![0]!.extensions!.reason, name).toBe('GUEST');
      }
    }
    expect(GUEST_USE_INSTEAD.connectAudio).toBe('listenAudio');
    // Nothing happened: the guest follows nobody and raised no hand.
    const me = await must(t, `{ viewer { followingCount } }`, {}, g);
    expect(me.viewer.followingCount).toBe(0);
  });

  it('the allowed mutations are not refused for being a guest', async () => {
    const [host] = await users(t, 1, 'gh');
    const s = await liveSpace(host!);
    const g = await guest();
    for (const name of GUEST_MUTATIONS) {
      if (name === 'signOut' || name === 'signIn' || name === 'signUp') continue; // below
      const { query, variables } = callOf(name, s);
      const r = await t.gql(query, variables, { token: g.token });
      for (const e of r.errors ?? []) expect(e.extensions?.reason, `${name}: ${e.message}`).not.toBe('GUEST');
    }
  });

  it('joins as a listener, is listed as "Guest", leaves', async () => {
    const [host] = await users(t, 1, 'gh');
    const s = await liveSpace(host!);
    const g = await guest();
    const joined = await must(t, Q.join, { s }, g);
    expect(joined.joinSpace.role).toBe('LISTENER');
    // EVERYONE may ask to speak, but not a guest: the client is told, before it tries.
    const asked = await must(t, `query($s: ID!) { space(id: $s) { viewerCanSpeak } }`, { s }, g);
    expect(asked.space.viewerCanSpeak).toBe(false);
    const audience = await must(
      t,
      `query($s: ID!) { space(id: $s) { listenerCount participants(first: 20) { edges { node { role user { displayName isGuest } } } } } }`,
      { s },
      host,
    );
    const guests = audience.space.participants.edges.filter((e: any) => e.node.user.isGuest);
    expect(guests).toEqual([{ node: { role: 'LISTENER', user: { displayName: 'Guest', isGuest: true } } }]);
    expect(await must(t, Q.leave, { s }, g)).toEqual({ leaveSpace: true });
  });

  it('subscribes to spaceEvents but to no other subscription', async () => {
    const [host] = await users(t, 1, 'gh');
    const s = await liveSpace(host!);
    const g = await guest();
    const client = wsClient(base, { token: g.token });
    try {
      const events = subscribe<any>(client, EVENTS, { s }, (d) => d.spaceEvents);
      const bar = subscribe<any>(client, `subscription { spacesBar { id } }`);
      await new Promise((r) => setTimeout(r, 200));
      await must(t, Q.join, { s }, g);
      await events.waitFor((e) => e.kind === 'PARTICIPANT_JOINED');
      expect(events.errors).toEqual([]);
      expect(GUEST_SUBSCRIPTIONS).not.toContain('spacesBar');
      expect(bar.errors.map((e: any) => [e.extensions?.code, e.extensions?.reason])).toEqual([['FORBIDDEN', 'GUEST']]);
      await events.close();
      await bar.close();
    } finally {
      await client.dispose();
    }
  });

  it('cannot be followed, invited or put on stage, and is left out of search and suggestions', async () => {
    const [host, fan] = await users(t, 2, 'gh');
    const s = await liveSpace(host!);
    const g = await guest();
    await must(t, Q.join, { s }, g);

    const follow = await t.gql(Q.follow, { u: g.id }, { token: fan!.token });
    expect(codes(follow)).toEqual(['FORBIDDEN']);
    expect(follow.errors![0]!.extensions!.reason).toBe('GUEST');
    const invite = await t.gql(Q.invite, { s, u: g.id }, { token: host!.token });
    expect(codes(invite)).toEqual(['FORBIDDEN']);
    expect(invite.errors![0]!.extensions!.reason).toBe('GUEST');
    for (const role of ['SPEAKER', 'CO_HOST']) {
      const r = await t.gql(Q.role, { s, u: g.id, role }, { token: host!.token });
      expect(codes(r), role).toEqual(['FORBIDDEN']);
      expect(r.errors![0]!.extensions!.reason).toBe('GUEST');
    }

    const found = await must(t, `query($q: String!) { search(query: $q, first: 100) { edges { node { id } } } }`, { q: g.handle }, fan);
    expect(found.search.edges).toEqual([]);
    const byName = await must(t, `query($q: String!) { search(query: $q, first: 100) { edges { node { isGuest } } } }`, { q: 'guest' }, fan);
    expect(byName.search.edges.filter((e: any) => e.node.isGuest)).toEqual([]);
    for (const viewer of [fan, undefined]) {
      const suggested = await must(t, `{ suggestedUsers(first: 100) { user { isGuest } } }`, {}, viewer);
      expect(suggested.suggestedUsers.length).toBeGreaterThan(0);
      expect(suggested.suggestedUsers.filter((x: any) => x.user.isGuest)).toEqual([]);
    }
  });
});

describe('leaving guest mode', () => {
  it('signing in from a guest session replaces it: the guest session ends and the guest leaves', async () => {
    const [host, member] = await users(t, 2, 'gs');
    const s = await liveSpace(host!);
    const g = await guest();
    await must(t, Q.join, { s }, g);
    const r = await t.gql(
      `mutation($i: SignInInput!) { signIn(input: $i) { token user { id isGuest } } }`,
      { i: { handle: member!.handle, password: 'correct horse battery' } },
      { token: g.token },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.signIn.user).toMatchObject({ id: member!.id, isGuest: false });
    expect(codes(await t.gql(VIEWER, {}, { token: g.token }))).toEqual(['UNAUTHENTICATED']);
    // Left (or already deleted with the guest account by the janitor, which may run meanwhile).
    const rows = await t.app.services.db
      .select({ leftAt: participants.leftAt })
      .from(participants)
      .where(eq(participants.userId, uuidOf(g.id)));
    expect(rows.filter((p) => p.leftAt === null)).toEqual([]);
    const audience = await must(t, Q.space, { s }, host);
    expect(audience.space.listenerCount).toBe(0);
    // The member's new session works.
    expect((await must(t, VIEWER, {}, { ...member!, token: r.data!.signIn.token })).viewer.id).toBe(member!.id);
  });

  it('signing up from a guest session replaces it too', async () => {
    const g = await guest();
    const r = await t.gql(
      `mutation($i: SignUpInput!) { signUp(input: $i) { token user { isGuest } } }`,
      { i: { handle: `fromg${Date.now() % 100000}`, displayName: 'Was a guest', password: 'correct horse battery' } },
      { token: g.token },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.signUp.user.isGuest).toBe(false);
    expect(codes(await t.gql(VIEWER, {}, { token: g.token }))).toEqual(['UNAUTHENTICATED']);
  });

  it('the janitor deletes guests with no session or a day old, once they are in no space', async () => {
    const [host] = await users(t, 1, 'gj');
    const s = await liveSpace(host!);
    const { accounts, db } = t.app.services;
    const exists = async (g: U) => (await db.select().from(usersTable).where(eq(usersTable.id, uuidOf(g.id)))).length === 1;

    const active = await guest();
    const signedOut = await guest();
    const signedOutButListening = await guest();
    await must(t, Q.join, { s }, signedOutButListening);
    await must(t, `mutation { signOut }`, {}, signedOut);
    // Revoke the listening guest's session without leaving (as if it expired).
    await db.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.userId, uuidOf(signedOutButListening.id)));

    await accounts.deleteStaleGuests();
    expect(await exists(active)).toBe(true);
    expect(await exists(signedOut)).toBe(false);
    expect(await exists(signedOutButListening)).toBe(true); // still in a space
    expect(await exists(host!)).toBe(true);

    await db.update(participants).set({ leftAt: new Date() }).where(eq(participants.userId, uuidOf(signedOutButListening.id)));
    await accounts.deleteStaleGuests();
    expect(await exists(signedOutButListening)).toBe(false);

    // A day later the active guest goes too (its session has expired by then as well).
    await accounts.deleteStaleGuests(new Date(Date.now() + 25 * 3_600_000));
    expect(await exists(active)).toBe(false);
    expect(await exists(host!)).toBe(true);
  });
});

describe('markHandsSeen', () => {
  it('host and co-hosts only; each raised hand is told (PARTICIPANT_UPDATED, handSeen) until lowered', async () => {
    const [host, coHost, raiser, other] = await users(t, 4, 'hs');
    const s = await liveSpace(host!);
    for (const u of [coHost!, raiser!, other!]) await must(t, Q.join, { s }, u);
    await must(t, Q.role, { s, u: coHost!.id, role: 'CO_HOST' }, host);
    await must(t, Q.raise, { s, r: true }, raiser);

    const MARK = `mutation($s: ID!) { markHandsSeen(spaceId: $s) }`;
    const byListener = await t.gql(MARK, { s }, { token: other!.token });
    expect(codes(byListener)).toEqual(['FORBIDDEN']);
    const g = await guest();
    await must(t, Q.join, { s }, g);
    const byGuest = await t.gql(MARK, { s }, { token: g.token });
    expect(byGuest.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'GUEST' });
    const [outsider] = await users(t, 1, 'hs');
    expect(codes(await t.gql(MARK, { s }, { token: outsider!.token }))).toEqual(['CONFLICT']);

    const client = wsClient(base, { token: raiser!.token });
    const events = subscribe<any>(
      client,
      `subscription($s: ID!) { spaceEvents(spaceId: $s) { kind participant { handRaised handSeen user { id } } } }`,
      { s },
      (d) => d.spaceEvents,
    );
    await new Promise((r) => setTimeout(r, 200));
    try {
      expect((await must(t, MARK, { s }, coHost)).markHandsSeen).toBe(1);
      const seen = await events.waitFor((e) => e.kind === 'PARTICIPANT_UPDATED' && e.participant?.handSeen === true);
      expect(seen.participant).toMatchObject({ handRaised: true, handSeen: true, user: { id: raiser!.id } });
      // Already seen: nothing new to tell.
      expect((await must(t, MARK, { s }, host)).markHandsSeen).toBe(0);

      // Lowered, the hand is no longer seen; raised again, it is new.
      const lowered = await must(t, Q.raise, { s, r: false }, raiser);
      expect(lowered.requestToSpeak.handRaised).toBe(false);
      const again = await must(t, `mutation($s: ID!) { requestToSpeak(spaceId: $s, raised: true) { handSeen } }`, { s }, raiser);
      expect(again.requestToSpeak.handSeen).toBe(false);
      expect((await must(t, MARK, { s }, host)).markHandsSeen).toBe(1);
      // Going on stage resets it.
      const onStage = await must(
        t,
        `mutation($s: ID!, $u: ID!) { setParticipantRole(spaceId: $s, userId: $u, role: SPEAKER) { role handRaised handSeen } }`,
        { s, u: raiser!.id },
        host,
      );
      expect(onStage.setParticipantRole).toEqual({ role: 'SPEAKER', handRaised: false, handSeen: false });
    } finally {
      await events.close();
      await client.dispose();
    }
  });
});
