import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, handle, startTestApp, type TestApp } from '../support/app.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { subscribe, wsClient, type Subscription } from '../support/ws.ts';

/** Scheduled spaces: updateSpace, cancelSpace, reminders, upcoming lists, profiles' spaces, the bar. */
let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.start();
});
afterAll(() => t?.close());

const HOUR = 3_600_000;
const inHours = (h: number) => new Date(Date.now() + h * HOUR).toISOString();

const S = `id title state cancelled scheduledFor speakerPolicy reminderCount viewerHasReminder`;
const CREATE = `mutation($input: CreateSpaceInput!) { createSpace(input: $input) { ${S} } }`;
const UPDATE = `mutation($s: ID!, $input: UpdateSpaceInput!) { updateSpace(spaceId: $s, input: $input) { ${S} } }`;
const CANCEL = `mutation($s: ID!) { cancelSpace(spaceId: $s) { ${S} endedAt } }`;
const REMIND = `mutation($s: ID!, $on: Boolean!) { setReminder(spaceId: $s, on: $on) { ${S} } }`;
const REMIND_DEFAULT = `mutation($s: ID!) { setReminder(spaceId: $s) { ${S} } }`;
const SPACE = `query($s: ID!) { space(id: $s) { ${S} } }`;
const UPCOMING = `query($first: Int, $after: String) { upcomingSpaces(first: $first, after: $after) {
  edges { cursor node { id title scheduledFor host { id } } } pageInfo { hasNextPage endCursor } } }`;
const PROFILE = `query($h: String!, $first: Int, $after: String) { user(handle: $h) {
  liveSpace { id state } upcomingSpaces { id scheduledFor }
  recentSpaces(first: $first, after: $after) { edges { node { id endedAt } } pageInfo { hasNextPage endCursor } } } }`;
const BAR = `query { spacesBar { id state title } }`;

async function schedule(host: U, hours: number, title = 'Later') {
  const { createSpace } = await must(t, CREATE, { input: { title, speakerPolicy: 'EVERYONE', scheduledFor: inHours(hours) } }, host);
  return createSpace as { id: string; scheduledFor: string };
}
async function live(host: U, title = 'Now') {
  const { createSpace } = await must(t, CREATE, { input: { title, speakerPolicy: 'EVERYONE' } }, host);
  return createSpace.id as string;
}

/** Pages through a connection query until its end, collecting node ids. */
async function allPages(query: string, vars: Record<string, unknown>, pick: (d: any) => any, user?: U, first = 2) {
  const ids: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 50; i++) {
    const data = await must(t, query, { ...vars, first, after }, user);
    const page = pick(data);
    ids.push(...page.edges.map((e: any) => e.node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor;
  }
  throw new Error('too many pages');
}

describe('updateSpace', () => {
  it('lets the host change title, time and policy of a scheduled space, validating each', async () => {
    const [host, other] = await users(t, 2, 'up');
    const s = await schedule(host!, 2);
    const when = inHours(5);
    const r = await t.gql(UPDATE, { s: s.id, input: { title: '  New   title ', scheduledFor: when, speakerPolicy: 'INVITED' } }, { token: host!.token });
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateSpace).toMatchObject({ title: 'New title', scheduledFor: when, speakerPolicy: 'INVITED', state: 'SCHEDULED' });
    // Only the fields given change.
    const titleOnly = await must(t, UPDATE, { s: s.id, input: { title: 'Only title' } }, host);
    expect(titleOnly.updateSpace).toMatchObject({ title: 'Only title', scheduledFor: when, speakerPolicy: 'INVITED' });

    const past = await t.gql(UPDATE, { s: s.id, input: { scheduledFor: inHours(-1) } }, { token: host!.token });
    expect(codes(past)).toEqual(['BAD_USER_INPUT']);
    expect(past.errors![0]!.extensions!.field).toBe('scheduledFor');
    const tooFar = await t.gql(UPDATE, { s: s.id, input: { scheduledFor: inHours(24 * 367) } }, { token: host!.token });
    expect(codes(tooFar)).toEqual(['BAD_USER_INPUT']);
    expect(tooFar.errors![0]!.extensions!.field).toBe('scheduledFor');
    const within = await t.gql(UPDATE, { s: s.id, input: { scheduledFor: inHours(24 * 365) } }, { token: host!.token });
    expect(within.errors).toBeUndefined();
    const emptyTitle = await t.gql(UPDATE, { s: s.id, input: { title: '   ' } }, { token: host!.token });
    expect(codes(emptyTitle)).toEqual(['BAD_USER_INPUT']);
    expect(emptyTitle.errors![0]!.extensions!.field).toBe('title');
    expect(codes(await t.gql(UPDATE, { s: s.id, input: { title: 'x'.repeat(101) } }, { token: host!.token }))).toEqual(['BAD_USER_INPUT']);
    // Refused changes changed nothing.
    expect((await must(t, SPACE, { s: s.id })).space.title).toBe('Only title');

    expect(codes(await t.gql(UPDATE, { s: s.id, input: { title: 'Mine' } }, { token: other!.token }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql(UPDATE, { s: s.id, input: { title: 'Mine' } }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(UPDATE, { s: 'nope', input: { title: 'Mine' } }, { token: host!.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(UPDATE, { s: host!.id, input: { title: 'Mine' } }, { token: host!.token }))).toEqual(['BAD_USER_INPUT']);
    const missing = Buffer.from('Space:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect(codes(await t.gql(UPDATE, { s: missing, input: { title: 'Mine' } }, { token: host!.token }))).toEqual(['NOT_FOUND']);
  });

  it('edits a live space\'s title (not its time), nothing of an ended one, and sends SPACE_UPDATED', async () => {
    const [host] = await users(t, 1, 'ul');
    const s = await live(host!);
    const client = wsClient(base);
    const sub: Subscription<any> = subscribe(client, EVENTS, { s }, (d) => d.spaceEvents);
    await new Promise((r) => setTimeout(r, 200));
    const renamed = await must(t, UPDATE, { s, input: { title: 'Renamed live' } }, host);
    expect(renamed.updateSpace).toMatchObject({ title: 'Renamed live', state: 'LIVE' });
    await sub.waitFor((e) => e.kind === 'SPACE_UPDATED');
    expect(codes(await t.gql(UPDATE, { s, input: { scheduledFor: inHours(3) } }, { token: host!.token }))).toEqual(['CONFLICT']);
    await must(t, Q.end, { s }, host);
    expect(codes(await t.gql(UPDATE, { s, input: { title: 'Too late' } }, { token: host!.token }))).toEqual(['CONFLICT']);
    await sub.close();
    await client.dispose();
  });
});

describe('cancelSpace', () => {
  it('ends a scheduled space as cancelled: host only, scheduled only', async () => {
    const [host, other] = await users(t, 2, 'ca');
    const s = await schedule(host!, 3);
    expect(codes(await t.gql(CANCEL, { s: s.id }, { token: other!.token }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql(CANCEL, { s: s.id }))).toEqual(['UNAUTHENTICATED']);
    const cancelled = await must(t, CANCEL, { s: s.id }, host);
    expect(cancelled.cancelSpace).toMatchObject({ state: 'ENDED', cancelled: true });
    expect(cancelled.cancelSpace.endedAt).toBeTruthy();
    expect(codes(await t.gql(CANCEL, { s: s.id }, { token: host!.token }))).toEqual(['CONFLICT']);
    // Nor can it start any more.
    expect(codes(await t.gql(Q.start, { s: s.id }, { token: host!.token }))).toEqual(['CONFLICT']);

    const l = await live(host!);
    expect(codes(await t.gql(CANCEL, { s: l }, { token: host!.token }))).toEqual(['CONFLICT']);
    const ended = (await must(t, Q.end, { s: l }, host)).endSpace;
    expect(ended.state).toBe('ENDED');
    expect((await must(t, SPACE, { s: l })).space.cancelled).toBe(false);
    expect(codes(await t.gql(CANCEL, { s: l }, { token: host!.token }))).toEqual(['CONFLICT']);
  });
});

describe('setReminder', () => {
  it('is idempotent, counted, personal, and only for scheduled spaces', async () => {
    const [host, a, b] = await users(t, 3, 'rm');
    const s = await schedule(host!, 4);
    const first = await must(t, REMIND_DEFAULT, { s: s.id }, a);
    expect(first.setReminder).toMatchObject({ viewerHasReminder: true, reminderCount: 1 });
    const again = await must(t, REMIND, { s: s.id, on: true }, a);
    expect(again.setReminder).toMatchObject({ viewerHasReminder: true, reminderCount: 1 });
    await must(t, REMIND, { s: s.id, on: true }, b);
    expect((await must(t, SPACE, { s: s.id }, b)).space).toMatchObject({ viewerHasReminder: true, reminderCount: 2 });
    expect((await must(t, SPACE, { s: s.id }, host)).space).toMatchObject({ viewerHasReminder: false, reminderCount: 2 });
    expect((await must(t, SPACE, { s: s.id })).space).toMatchObject({ viewerHasReminder: false, reminderCount: 2 });

    const off = await must(t, REMIND, { s: s.id, on: false }, a);
    expect(off.setReminder).toMatchObject({ viewerHasReminder: false, reminderCount: 1 });
    const offAgain = await must(t, REMIND, { s: s.id, on: false }, a);
    expect(offAgain.setReminder).toMatchObject({ viewerHasReminder: false, reminderCount: 1 });

    expect(codes(await t.gql(REMIND, { s: s.id, on: true }))).toEqual(['UNAUTHENTICATED']);
    const l = await live(host!);
    expect(codes(await t.gql(REMIND, { s: l, on: true }, { token: a!.token }))).toEqual(['CONFLICT']);
    await must(t, Q.end, { s: l }, host);
    await must(t, CANCEL, { s: s.id }, host);
    expect(codes(await t.gql(REMIND, { s: s.id, on: true }, { token: a!.token }))).toEqual(['CONFLICT']);
  });

  it('is rate limited like follow', async () => {
    const limited = await startTestApp({ rateLimits: { followPerMinutePerUser: 3 } });
    try {
      const host = await limited.signUp(handle('rl'));
      const fan = await limited.signUp(handle('rf'));
      const { createSpace } = (
        await limited.gql(CREATE, { input: { title: 'Limited', speakerPolicy: 'EVERYONE', scheduledFor: inHours(2) } }, { token: host.token })
      ).data!;
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await limited.gql(REMIND, { s: createSpace.id, on: i % 2 === 0 }, { token: fan.token }));
      expect(results.map((r) => codes(r)[0] ?? 'OK')).toEqual(['OK', 'OK', 'OK', 'RATE_LIMITED']);
    } finally {
      await limited.close();
    }
  });
});

describe('upcomingSpaces', () => {
  it('signed in: own and followed hosts\' scheduled spaces, soonest first, paged; signed out: all', async () => {
    const [viewer, followed, stranger] = await users(t, 3, 'uc');
    await must(t, Q.follow, { u: followed!.id }, viewer);
    const own = await schedule(viewer!, 30, 'Own');
    const f1 = await schedule(followed!, 10, 'F soon');
    const f2 = await schedule(followed!, 50, 'F later');
    const f3 = await schedule(followed!, 20, 'F middle');
    const strangers = await schedule(stranger!, 5, 'Stranger');
    const cancelled = await schedule(followed!, 15, 'Cancelled');
    await must(t, CANCEL, { s: cancelled.id }, followed);
    const startedId = (await schedule(followed!, 1, 'Started')).id;
    await must(t, Q.start, { s: startedId }, followed);

    const ids = await allPages(UPCOMING, {}, (d) => d.upcomingSpaces, viewer);
    expect(ids).toEqual([f1.id, f3.id, own.id, f2.id]);
    const signedOut = await allPages(UPCOMING, {}, (d) => d.upcomingSpaces, undefined, 3);
    for (const id of [strangers.id, f1.id, f3.id, own.id, f2.id]) expect(signedOut).toContain(id);
    expect(signedOut).not.toContain(cancelled.id);
    expect(signedOut).not.toContain(startedId);
    expect(signedOut.indexOf(strangers.id)).toBeLessThan(signedOut.indexOf(f1.id));
    expect(new Set(signedOut).size).toBe(signedOut.length);
    await must(t, Q.end, { s: startedId }, followed);

    expect(codes(await t.gql(UPCOMING, { first: 101 }, { token: viewer!.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(UPCOMING, { after: 'garbage' }, { token: viewer!.token }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('User.liveSpace, upcomingSpaces, recentSpaces', () => {
  it('shows the live space someone hosts or speaks in, their scheduled spaces and their ended ones', async () => {
    const [host, speaker, listener] = await users(t, 3, 'pr');
    const later = await schedule(host!, 48);
    const sooner = await schedule(host!, 6);
    const cancelled = await schedule(host!, 7);
    await must(t, CANCEL, { s: cancelled.id }, host);
    const ended: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await live(host!, `Past ${i}`);
      await must(t, Q.end, { s }, host);
      ended.unshift(s);
    }
    const s = await live(host!);
    await must(t, Q.join, { s }, speaker);
    await must(t, Q.join, { s }, listener);
    await must(t, Q.invite, { s, u: speaker!.id }, host);
    await must(t, Q.accept, { s }, speaker);

    const hostProfile = (await must(t, PROFILE, { h: host!.handle, first: 2 })).user;
    expect(hostProfile.liveSpace).toEqual({ id: s, state: 'LIVE' });
    expect(hostProfile.upcomingSpaces.map((x: any) => x.id)).toEqual([sooner.id, later.id]);
    expect(hostProfile.recentSpaces.edges.map((e: any) => e.node.id)).toEqual(ended.slice(0, 2));
    expect(await allPages(PROFILE, { h: host!.handle }, (d) => d.user.recentSpaces)).toEqual(ended);
    expect((await must(t, PROFILE, { h: speaker!.handle })).user.liveSpace).toEqual({ id: s, state: 'LIVE' });
    expect((await must(t, PROFILE, { h: listener!.handle })).user.liveSpace).toBeNull();

    await must(t, Q.role, { s, u: speaker!.id, role: 'LISTENER' }, host);
    expect((await must(t, PROFILE, { h: speaker!.handle })).user.liveSpace).toBeNull();
    await must(t, Q.end, { s }, host);
    const after = (await must(t, PROFILE, { h: host!.handle, first: 10 })).user;
    expect(after.liveSpace).toBeNull();
    expect(after.recentSpaces.edges.map((e: any) => e.node.id)).toEqual([s, ...ended]);
  });
});

describe('User.upcomingSpaces in lists', () => {
  it('gives each user their own, soonest first, at most 20', async () => {
    const [busy, quiet] = await users(t, 2, 'ub');
    const made: { id: string; hours: number }[] = [];
    for (let i = 0; i < 22; i++) {
      const hours = 2 + ((i * 7) % 22);
      made.push({ id: (await schedule(busy!, hours)).id, hours });
    }
    const quietOne = await schedule(quiet!, 3);
    const both = await must(
      t,
      `query($a: String!, $b: String!) { a: user(handle: $a) { upcomingSpaces { id } } b: user(handle: $b) { upcomingSpaces { id } } }`,
      { a: busy!.handle, b: quiet!.handle },
    );
    const soonest = [...made].sort((x, y) => x.hours - y.hours).slice(0, 20).map((x) => x.id);
    expect(both.a.upcomingSpaces.map((x: any) => x.id)).toEqual(soonest);
    expect(both.b.upcomingSpaces.map((x: any) => x.id)).toEqual([quietOne.id]);
  });
});

describe('spacesBar with scheduled spaces', () => {
  it('lists followed live spaces, then followed scheduled spaces starting within 24 h, soonest first', async () => {
    const [viewer, liveHost, soonHost, laterHost, farHost, stranger] = await users(t, 6, 'br');
    for (const u of [liveHost, soonHost, laterHost, farHost]) await must(t, Q.follow, { u: u!.id }, viewer);
    const farOff = await schedule(farHost!, 30);
    const later = await schedule(laterHost!, 20);
    const soon = await schedule(soonHost!, 1);
    await schedule(stranger!, 1);
    const l = await live(liveHost!);
    const bar = (await must(t, BAR, {}, viewer)).spacesBar;
    expect(bar.map((s: any) => s.id)).toEqual([l, soon.id, later.id]);
    expect(bar.map((s: any) => s.state)).toEqual(['LIVE', 'SCHEDULED', 'SCHEDULED']);
    expect(bar.map((s: any) => s.id)).not.toContain(farOff.id);
    // Moving the far one within 24 h (before the others) puts it first among the scheduled.
    await must(t, UPDATE, { s: farOff.id, input: { scheduledFor: new Date(Date.now() + HOUR / 2).toISOString() } }, farHost);
    expect((await must(t, BAR, {}, viewer)).spacesBar.map((s: any) => s.id)).toEqual([l, farOff.id, soon.id, later.id]);
    // Hosts whose scheduled spaces start in an interval: what the bars' once-a-minute look asks.
    const raw = (u: U) => Buffer.from(u.id, 'base64url').toString().split(':')[1];
    const between = await t.app.services.spaces.hostsStartingBetween(new Date(Date.now() + HOUR / 2), new Date(Date.now() + 21 * HOUR));
    expect(between).toEqual(expect.arrayContaining([raw(soonHost!), raw(laterHost!)]));
    expect(between).not.toContain(raw(liveHost!));
    expect(between).not.toContain(raw(farHost!)); // now at +0.5 h, outside (0.5 h, 21 h]
    await must(t, Q.end, { s: l }, liveHost);
    await must(t, CANCEL, { s: farOff.id }, farHost);
    expect((await must(t, BAR, {}, viewer)).spacesBar.map((s: any) => s.id)).toEqual([soon.id, later.id]);
  });

  it('the subscription sends a new bar when a followed account schedules, edits, cancels or starts a space', async () => {
    const [viewer, host] = await users(t, 2, 'bs');
    await must(t, Q.follow, { u: host!.id }, viewer);
    const client = wsClient(base, { token: viewer!.token });
    const sub = subscribe<any[]>(client, `subscription { spacesBar { id state title } }`, {}, (d) => d.spacesBar);
    // The next bar sent after `mark` bars that satisfies `ok`.
    const next = (ok: (bar: any[]) => boolean) => {
      const mark = sub.events.length;
      return (changed: Promise<unknown>) => changed.then(() => sub.waitFor((bar) => sub.events.indexOf(bar) >= mark && ok(bar)));
    };
    await sub.waitFor((bar) => bar.length === 0);
    let s: { id: string } = { id: '' };
    await next((bar) => bar.length === 1 && bar[0].id === s.id && bar[0].state === 'SCHEDULED')(schedule(host!, 2, 'Planned').then((x) => (s = x)));
    await next((bar) => bar[0]?.title === 'Planned, renamed')(must(t, UPDATE, { s: s.id, input: { title: 'Planned, renamed' } }, host));
    await next((bar) => bar[0]?.id === s.id && bar[0].state === 'LIVE')(must(t, Q.start, { s: s.id }, host));
    await next((bar) => bar[0]?.title === 'Live, renamed')(must(t, UPDATE, { s: s.id, input: { title: 'Live, renamed' } }, host));
    await next((bar) => bar.length === 0)(must(t, Q.end, { s: s.id }, host));
    let second: { id: string } = { id: '' };
    await next((bar) => bar[0]?.id === second.id)(schedule(host!, 3, 'Second').then((x) => (second = x)));
    const last = await next((bar) => bar.length === 0)(must(t, CANCEL, { s: second.id }, host));
    expect(last).toEqual([]);
    expect(sub.errors).toEqual([]);
    await sub.close();
    await client.dispose();
  });
});
