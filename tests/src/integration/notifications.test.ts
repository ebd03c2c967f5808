import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { codes, startTestApp, type TestApp } from '../support/app.ts';
import { must, Q, users, type U } from '../support/spaces.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/** In-app notifications: who gets which kind, reading them, paging, privacy, live delivery. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ pubsub: 'postgres' });
});
afterAll(() => t?.close());

const N = `id kind read createdAt actor { id } space { id }`;
const LIST = `query($first: Int, $after: String) { notifications(first: $first, after: $after) {
  edges { cursor node { ${N} } } pageInfo { hasNextPage endCursor } } }`;
const UNREAD = `query { unreadNotificationCount }`;
const MARK = `mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }`;
const NODE = `query($id: ID!) { node(id: $id) { id ... on Notification { kind actor { id } } } }`;
const CREATE = `mutation($input: CreateSpaceInput!) { createSpace(input: $input) { id } }`;
const CANCEL = `mutation($s: ID!) { cancelSpace(spaceId: $s) { id } }`;
const REMIND = `mutation($s: ID!, $on: Boolean!) { setReminder(spaceId: $s, on: $on) { id } }`;

type Note = { id: string; kind: string; read: boolean; actor: { id: string } | null; space: { id: string } | null };

/** A global id's database id. */
const rawId = (node: { id: string }) => Buffer.from(node.id, 'base64url').toString().split(':')[1]!;

/** Notices are created after the change commits: wait until those dispatched so far exist. */
const settled = () => t.app.services.spaces.dispatcher.noticesSettled();

async function inbox(user: U, first = 100): Promise<Note[]> {
  await settled();
  return (await must(t, LIST, { first }, user)).notifications.edges.map((e: any) => e.node);
}
/** The viewer's notifications as kind/actor/space triples, newest first. */
const summary = async (user: U) => (await inbox(user)).map((n) => `${n.kind}:${n.actor?.id ?? '-'}:${n.space?.id ?? '-'}`);

async function live(host: U, policy = 'EVERYONE') {
  return (await must(t, CREATE, { input: { title: 'Notified', speakerPolicy: policy } }, host)).createSpace.id as string;
}
async function scheduled(host: U) {
  const scheduledFor = new Date(Date.now() + 3_600_000).toISOString();
  return (await must(t, CREATE, { input: { title: 'Soon', speakerPolicy: 'EVERYONE', scheduledFor } }, host)).createSpace.id as string;
}

describe('who is notified', () => {
  it('SPEAKER_INVITED reaches the invitee only, once per invitation', async () => {
    const [host, invitee, listener] = await users(t, 3, 'ni');
    const s = await live(host!);
    await must(t, Q.join, { s }, invitee);
    await must(t, Q.join, { s }, listener);
    await must(t, Q.invite, { s, u: invitee!.id }, host);
    await must(t, Q.invite, { s, u: invitee!.id }, host); // already invited: no second notice
    expect(await summary(invitee!)).toEqual([`SPEAKER_INVITED:${host!.id}:${s}`]);
    expect(await summary(listener!)).toEqual([]);
    expect(await summary(host!)).toEqual([]);
    await must(t, Q.end, { s }, host);
  });

  it('HAND_RAISED reaches the host and co-hosts, not speakers, listeners or the raiser', async () => {
    const [host, coHost, speaker, listener, raiser] = await users(t, 5, 'nh');
    const s = await live(host!);
    for (const u of [coHost, speaker, listener, raiser]) await must(t, Q.join, { s }, u);
    await must(t, Q.role, { s, u: coHost!.id, role: 'CO_HOST' }, host);
    await must(t, Q.invite, { s, u: speaker!.id }, host);
    await must(t, Q.accept, { s }, speaker);
    await must(t, Q.raise, { s, r: true }, raiser);
    await must(t, Q.raise, { s, r: true }, raiser); // still raised: nothing new
    const expected = [`HAND_RAISED:${raiser!.id}:${s}`];
    expect(await summary(host!)).toEqual(expected);
    expect(await summary(coHost!)).toEqual(expected);
    expect(await summary(speaker!)).toEqual([`SPEAKER_INVITED:${host!.id}:${s}`]);
    expect(await summary(listener!)).toEqual([]);
    expect(await summary(raiser!)).toEqual([]);
    // Lowered and raised again while the first is unread: no second notice (no flood).
    await must(t, Q.raise, { s, r: false }, raiser);
    await must(t, Q.raise, { s, r: true }, raiser);
    expect(await summary(host!)).toEqual(expected);
    // Once read, a new raise is news again (for the host, who read it; the co-host still has one unread).
    await must(t, MARK, {}, host);
    await must(t, Q.raise, { s, r: false }, raiser);
    await must(t, Q.raise, { s, r: true }, raiser);
    expect(await summary(host!)).toEqual([...expected, ...expected]);
    expect(await summary(coHost!)).toEqual(expected);
    expect((await must(t, UNREAD, {}, host)).unreadNotificationCount).toBe(1);
    await must(t, Q.end, { s }, host);
  });

  it('SPACE_STARTED reaches the host\'s followers when a space opens live, nobody else', async () => {
    const [host, fan1, fan2, stranger] = await users(t, 4, 'ns');
    await must(t, Q.follow, { u: host!.id }, fan1);
    await must(t, Q.follow, { u: host!.id }, fan2);
    await must(t, Q.follow, { u: fan1!.id }, host); // the host following a fan changes nothing
    const s = await live(host!);
    expect(await summary(fan1!)).toEqual([`SPACE_STARTED:${host!.id}:${s}`]);
    expect(await summary(fan2!)).toEqual([`SPACE_STARTED:${host!.id}:${s}`]);
    expect(await summary(stranger!)).toEqual([]);
    expect(await summary(host!)).toEqual([]);
    await must(t, Q.end, { s }, host);
  });

  it('a scheduled space starting: SPACE_REMINDER to reminder holders, SPACE_STARTED to the other followers', async () => {
    const [host, remindedFan, plainFan, remindedStranger, clearedStranger, stranger] = await users(t, 6, 'nr');
    await must(t, Q.follow, { u: host!.id }, remindedFan);
    await must(t, Q.follow, { u: host!.id }, plainFan);
    const s = await scheduled(host!);
    // Scheduling tells nobody.
    expect(await summary(plainFan!)).toEqual([]);
    for (const u of [remindedFan, remindedStranger, clearedStranger]) await must(t, REMIND, { s, on: true }, u);
    await must(t, REMIND, { s, on: false }, clearedStranger);
    await must(t, Q.start, { s }, host);
    expect(await summary(remindedFan!)).toEqual([`SPACE_REMINDER:${host!.id}:${s}`]);
    expect(await summary(remindedStranger!)).toEqual([`SPACE_REMINDER:${host!.id}:${s}`]);
    expect(await summary(plainFan!)).toEqual([`SPACE_STARTED:${host!.id}:${s}`]);
    expect(await summary(clearedStranger!)).toEqual([]);
    expect(await summary(stranger!)).toEqual([]);
    expect(await summary(host!)).toEqual([]);
    await must(t, Q.end, { s }, host);
  });

  it('SPACE_CANCELLED reaches reminder holders only', async () => {
    const [host, reminded, fan] = await users(t, 3, 'nc');
    await must(t, Q.follow, { u: host!.id }, fan);
    const s = await scheduled(host!);
    await must(t, REMIND, { s, on: true }, reminded);
    await must(t, CANCEL, { s }, host);
    expect(await summary(reminded!)).toEqual([`SPACE_CANCELLED:${host!.id}:${s}`]);
    expect(await summary(fan!)).toEqual([]);
    expect(await summary(host!)).toEqual([]);
  });

  it('SPACE_STARTED reaches every one of 500 followers exactly once', async () => {
    const [host] = await users(t, 1, 'nm');
    // Followers and follows written directly: arranging 500 of them through the API (a password
    // hash each) is not what is tested.
    const sql = postgres(t.databaseUrl, { max: 1 });
    try {
      const tag = Math.random().toString(36).slice(2, 7);
      const fans = await sql`insert into users (handle, display_name, password_hash)
        select 'f' || ${tag} || n, 'Fan ' || n, 'x' from generate_series(1, 500) n returning id`;
      await sql`insert into follows (follower_id, followee_id) select unnest(${fans.map((f) => f.id)}::uuid[]), ${rawId(host!)}::uuid`;
      const s = await live(host!);
      await settled();
      const [row] = await sql`select count(*)::int as n, count(distinct user_id)::int as people,
          count(*) filter (where user_id = any(${fans.map((f) => f.id)}::uuid[]))::int as fans
        from notifications where space_id = ${rawId({ id: s })} and kind = 'SPACE_STARTED'`;
      expect(row).toEqual({ n: 500, people: 500, fans: 500 });
      await must(t, Q.end, { s }, host);
    } finally {
      await sql.end();
    }
  });
});

describe('reading notifications', () => {
  it('counts unread ones and marks some or all read; others\' ids are ignored', async () => {
    const [host, fan, other] = await users(t, 3, 'nu');
    await must(t, Q.follow, { u: host!.id }, fan);
    await must(t, Q.follow, { u: host!.id }, other);
    const spaces: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await live(host!);
      await must(t, Q.end, { s }, host);
      spaces.push(s);
    }
    const notes = await inbox(fan!);
    expect(notes.map((n) => n.space!.id)).toEqual([...spaces].reverse());
    expect(notes.every((n) => !n.read)).toBe(true);
    expect((await must(t, UNREAD, {}, fan)).unreadNotificationCount).toBe(3);

    const theirs = (await inbox(other!))[0]!.id;
    const marked = await must(t, MARK, { ids: [notes[0]!.id, theirs] }, fan);
    expect(marked.markNotificationsRead).toBe(2);
    expect((await must(t, UNREAD, {}, other)).unreadNotificationCount).toBe(3); // untouched
    expect((await inbox(fan!)).map((n) => n.read)).toEqual([true, false, false]);
    expect((await must(t, MARK, { ids: [notes[0]!.id] }, fan)).markNotificationsRead).toBe(2); // idempotent
    expect((await must(t, MARK, { ids: [] }, fan)).markNotificationsRead).toBe(2);
    expect((await must(t, MARK, {}, fan)).markNotificationsRead).toBe(0);
    expect((await must(t, UNREAD, {}, fan)).unreadNotificationCount).toBe(0);
    expect((await inbox(fan!)).every((n) => n.read)).toBe(true);

    expect(codes(await t.gql(MARK, { ids: ['garbage'] }, { token: fan!.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(MARK, { ids: [host!.id] }, { token: fan!.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(MARK, {}))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(LIST, {}))).toEqual(['UNAUTHENTICATED']);
    expect((await t.gql(UNREAD, {})).data!.unreadNotificationCount).toBe(0);
  });

  it('pages newest first without gaps or repeats', async () => {
    const [host, fan] = await users(t, 2, 'np');
    await must(t, Q.follow, { u: host!.id }, fan);
    const spaces: string[] = [];
    for (let i = 0; i < 7; i++) {
      const s = await live(host!);
      await must(t, Q.end, { s }, host);
      spaces.unshift(s);
    }
    await settled();
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page: any = (await must(t, LIST, { first: 3, after }, fan)).notifications;
      seen.push(...page.edges.map((e: any) => e.node.space.id));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toEqual(spaces);
    expect(codes(await t.gql(LIST, { first: 101 }, { token: fan!.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(LIST, { after: 'bogus' }, { token: fan!.token }))).toEqual(['BAD_USER_INPUT']);
  });

  it('node(id) gives a notification to its recipient only', async () => {
    const [host, fan, snoop] = await users(t, 3, 'nn');
    await must(t, Q.follow, { u: host!.id }, fan);
    const s = await live(host!);
    await must(t, Q.end, { s }, host);
    const [note] = await inbox(fan!);
    expect((await must(t, NODE, { id: note!.id }, fan)).node).toEqual({ id: note!.id, kind: 'SPACE_STARTED', actor: { id: host!.id } });
    expect((await must(t, NODE, { id: note!.id }, snoop)).node).toBeNull();
    expect((await must(t, NODE, { id: note!.id }, host)).node).toBeNull();
    expect((await must(t, NODE, { id: note!.id })).node).toBeNull();
  });

  it('the janitor\'s pruning deletes notifications older than 30 days', async () => {
    const [host, fan] = await users(t, 2, 'nj');
    await must(t, Q.follow, { u: host!.id }, fan);
    for (let i = 0; i < 2; i++) {
      const s = await live(host!);
      await must(t, Q.end, { s }, host);
    }
    const [oldest, newest] = (await inbox(fan!)).reverse();
    const sql = postgres(t.databaseUrl, { max: 1 });
    try {
      await sql`update notifications set created_at = now() - interval '31 days' where id = ${rawId(oldest!)}`;
    } finally {
      await sql.end();
    }
    expect(await t.app.services.notifications.prune()).toBeGreaterThanOrEqual(1);
    expect((await inbox(fan!)).map((n) => n.id)).toEqual([newest!.id]);
  });
});

describe('Subscription.notifications', () => {
  let second: App;
  let secondDb: DbHandle;
  beforeAll(async () => {
    // A second instance with its own pool and LISTEN connection, as a second server would have.
    secondDb = await createDb({ url: t.databaseUrl, migrate: true });
    second = await buildApp({ database: secondDb, serveWeb: false, port: 0, host: '127.0.0.1', pubsub: 'postgres', presenceGraceMs: 600_000 });
  });
  afterAll(async () => {
    await second?.stop();
    await secondDb?.close();
  });

  it('delivers a notification made on one instance to its recipient on the other, and to nobody else', async () => {
    const [host, fan, bystander] = await users(t, 3, 'nw');
    await must(t, Q.follow, { u: host!.id }, fan);
    const url = await second.start();
    const fanClient = wsClient(url, { token: fan!.token });
    const byClient = wsClient(url, { token: bystander!.token });
    const fanSub = subscribe<any>(fanClient, `subscription { notifications { ${N} } }`, {}, (d) => d.notifications);
    const bySub = subscribe<any>(byClient, `subscription { notifications { ${N} } }`, {}, (d) => d.notifications);
    await new Promise((r) => setTimeout(r, 300));
    // The change runs on instance one (in-process fetch); the subscribers are on instance two.
    const s = await live(host!);
    const delivered = await fanSub.waitFor((n) => n.space?.id === s);
    expect(delivered).toMatchObject({ kind: 'SPACE_STARTED', read: false, actor: { id: host!.id }, space: { id: s } });
    expect(delivered.id).toBe((await inbox(fan!))[0]!.id);
    await must(t, Q.join, { s }, bystander);
    await must(t, Q.raise, { s, r: true }, bystander);
    const raised = await (async () => {
      const hostClient = wsClient(url, { token: host!.token });
      const hostSub = subscribe<any>(hostClient, `subscription { notifications { kind actor { id } } }`, {}, (d) => d.notifications);
      await new Promise((r) => setTimeout(r, 300));
      await settled();
      await must(t, MARK, {}, host); // the first raise, read: the next one is news
      await must(t, Q.raise, { s, r: false }, bystander);
      await must(t, Q.raise, { s, r: true }, bystander);
      const got = await hostSub.waitFor((n) => n.kind === 'HAND_RAISED');
      await hostSub.close();
      await hostClient.dispose();
      return got;
    })();
    expect(raised).toEqual({ kind: 'HAND_RAISED', actor: { id: bystander!.id } });
    await new Promise((r) => setTimeout(r, 300));
    expect(bySub.events).toEqual([]);
    expect(fanSub.events).toHaveLength(1);
    expect([...fanSub.errors, ...bySub.errors]).toEqual([]);
    await must(t, Q.end, { s }, host);
    for (const sub of [fanSub, bySub]) await sub.close();
    await fanClient.dispose();
    await byClient.dispose();
  });

  it('is UNAUTHENTICATED signed out', async () => {
    const url = await second.start();
    const client = wsClient(url);
    const sub = subscribe<any>(client, `subscription { notifications { id } }`, {}, (d) => d.notifications);
    await new Promise((r) => setTimeout(r, 300));
    expect(JSON.stringify(sub.errors)).toContain('UNAUTHENTICATED');
    await sub.close();
    await client.dispose();
  });
});

describe('on embedded PGlite', () => {
  it('creates, lists and delivers notifications as on PostgreSQL', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'spaces-pglite-notes-'));
    const db = await createDb({ dataDir: dir });
    const app = await buildApp({ database: db, serveWeb: false, port: 0, host: '127.0.0.1' });
    try {
      const gql = async (query: string, variables: Record<string, unknown>, token?: string) => {
        const response = await app.yoga.fetch('http://spaces.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ query, variables }),
        });
        const body = (await response.json()) as { data?: any; errors?: unknown };
        if (body.errors) throw new Error(JSON.stringify(body.errors));
        return body.data;
      };
      const signUp = async (h: string) =>
        (await gql(`mutation($i: SignUpInput!) { signUp(input: $i) { token user { id } } }`, {
          i: { handle: h, displayName: h, password: 'correct horse battery' },
        })).signUp as { token: string; user: { id: string } };
      const host = await signUp('pg_host');
      const fan = await signUp('pg_fan');
      await gql(Q.follow, { u: host.user.id }, fan.token);
      const live = app.services.events.pubsub.subscribe('notification', Buffer.from(fan.user.id, 'base64url').toString().split(':')[1]!);
      const s = (await gql(CREATE, { input: { title: 'Embedded', speakerPolicy: 'EVERYONE' } }, host.token)).createSpace.id;
      await gql(Q.join, { s }, fan.token);
      await gql(Q.invite, { s, u: fan.user.id }, host.token);
      await app.services.spaces.dispatcher.noticesSettled();
      const list = (await gql(LIST, { first: 10 }, fan.token)).notifications.edges.map((e: any) => e.node.kind);
      expect(list).toEqual(['SPEAKER_INVITED', 'SPACE_STARTED']);
      expect((await live.next()).value).toMatchObject({ kind: 'SPACE_STARTED' });
      await live.return?.();
      expect((await gql(MARK, {}, fan.token)).markNotificationsRead).toBe(0);
    } finally {
      await app.stop();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
