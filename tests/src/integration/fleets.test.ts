import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import sharp from 'sharp';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { codes, handle, startTestApp, type TestApp } from '../support/app.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/**
 * Fleets: 24-hour posts on the top bar. The API's clock is this file's `now` (buildApp's clock
 * option), so expiry is tested at its boundary without waiting: at 23:59:59 a fleet is
 * everywhere, at 24:00:00 nowhere (bar, User.fleets, node, subscription, its photo's URL), and
 * the janitor's sweeper then deletes its rows and file.
 */

let now = Date.parse('2026-11-30T10:00:00.000Z');
const clock = () => now;
let t: TestApp;
let base: string;
let mediaDir: string;
let sql: postgres.Sql;
type U = { id: string; token: string; handle: string };

beforeAll(async () => {
  mediaDir = mkdtempSync(path.join(tmpdir(), 'spaces-fleets-'));
  // hostGraceMs 2 s: the janitor (and its fleet sweeper) runs every 500 ms.
  t = await startTestApp({ pubsub: 'postgres', mediaDir, clock, fleetExpiryCheckMs: 50, hostGraceMs: 2_000 });
  base = await t.app.start();
  sql = postgres(t.databaseUrl, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await t?.close();
  rmSync(mediaDir, { recursive: true, force: true });
});

const rawId = (globalId: string) => Buffer.from(globalId, 'base64url').toString().split(':')[1]!;
const FLEET = `id kind text background photoUrl caption replyPolicy createdAt expiresAt author { id } space { id }`;
const Q = {
  post: `mutation($input: PostFleetInput!) { postFleet(input: $input) { ${FLEET} } }`,
  del: `mutation($id: ID!) { deleteFleet(id: $id) }`,
  seen: `mutation($id: ID!) { markFleetSeen(id: $id) { id viewerHasSeen } }`,
  reply: `mutation($f: ID!, $input: ReplyToFleetInput!) { replyToFleet(fleetId: $f, input: $input) { id text emoji author { id } fleet { id } } }`,
  bar: `{ fleetsBar { user { id } hasUnseen fleets { id viewerHasSeen } } }`,
  userFleets: `query($h: String!) { user(handle: $h) { fleets { id } } }`,
  node: `query($id: ID!) { node(id: $id) { id ... on Fleet { text viewCount viewerCanReply viewerReplyRefusal } } }`,
  follow: `mutation($u: ID!) { follow(userId: $u) { id } }`,
  setDefault: `mutation($p: ReplyPolicy!) { setDefaultReplyPolicy(policy: $p) { id defaultReplyPolicy } }`,
};

async function must(query: string, variables: Record<string, unknown>, user?: U) {
  const r = await t.gql(query, variables, { token: user?.token });
  if (r.errors) throw new Error(`${query.slice(0, 60)}: ${JSON.stringify(r.errors)}`);
  return r.data!;
}
const users = (n: number, prefix: string) => Promise.all(Array.from({ length: n }, () => t.signUp(handle(prefix))));
const follow = (follower: U, followee: U) => must(Q.follow, { u: followee.id }, follower);
const postText = async (author: U, text: string, extra: Record<string, unknown> = {}) =>
  (await must(Q.post, { input: { text, ...extra } }, author)).postFleet;
const barOf = async (viewer: U) => (await must(Q.bar, {}, viewer)).fleetsBar as { user: { id: string }; hasUnseen: boolean; fleets: { id: string; viewerHasSeen: boolean }[] }[];

async function uploadPhoto(user: U, body: Uint8Array, type = 'image/jpeg') {
  const response = await fetch(`${base}/media/fleet-photo`, {
    method: 'POST',
    headers: { 'content-type': type, authorization: `Bearer ${user.token}` },
    body: body as BodyInit,
  });
  return { status: response.status, ...((await response.json()) as { data?: { uploadId: string }; errors?: { extensions: Record<string, unknown> }[] }) };
}
const redPhoto = () => sharp({ create: { width: 1600, height: 1200, channels: 3, background: { r: 200, g: 30, b: 30 } } }).jpeg().toBuffer();

describe('expiry at the 24-hour boundary (controlled clock)', () => {
  it('shows a fleet everywhere at 23:59:59 and nowhere at 24:00:00', async () => {
    now = Date.parse('2026-11-30T10:00:00.000Z');
    const [author, fan] = (await users(2, 'fx')) as [U, U];
    await follow(fan, author);
    const fleet = await postText(author, 'Gone tomorrow', { background: 'PURPLE' });
    expect(fleet).toMatchObject({ kind: 'TEXT', text: 'Gone tomorrow', background: 'PURPLE', replyPolicy: 'EVERYONE', photoUrl: null });
    expect(Date.parse(fleet.expiresAt) - Date.parse(fleet.createdAt)).toBe(24 * 3_600_000);
    expect(fleet.createdAt).toBe('2026-11-30T10:00:00.000Z'); // the API's clock, not the database's

    const visible = async () => ({
      bar: (await barOf(fan)).some((e) => e.fleets.some((f) => f.id === fleet.id)),
      own: (await barOf(author)).some((e) => e.fleets.some((f) => f.id === fleet.id)),
      profile: (await must(Q.userFleets, { h: author.handle })).user.fleets.some((f: { id: string }) => f.id === fleet.id),
      node: (await must(Q.node, { id: fleet.id })).node?.id === fleet.id,
    });
    now = Date.parse(fleet.expiresAt) - 1_000; // 23:59:59
    expect(await visible()).toEqual({ bar: true, own: true, profile: true, node: true });
    now = Date.parse(fleet.expiresAt); // 24:00:00
    expect(await visible()).toEqual({ bar: false, own: false, profile: false, node: false });
    // Nor can it be seen or replied to.
    expect(codes(await t.gql(Q.seen, { id: fleet.id }, { token: fan.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(Q.reply, { f: fleet.id, input: { emoji: '🔥' } }, { token: fan.token }))).toEqual(['NOT_FOUND']);
  });

  it("refuses an expired fleet's photo before the sweeper ran, then the sweeper deletes rows and file", async () => {
    now = Date.parse('2026-12-01T10:00:00.000Z');
    const [author, fan] = (await users(2, 'fs')) as [U, U];
    const up = await uploadPhoto(author, await redPhoto());
    expect(up.status).toBe(200);
    const fleet = (await must(Q.post, { input: { photoUploadId: up.data!.uploadId, caption: 'sunset' } }, author)).postFleet;
    expect(fleet).toMatchObject({ kind: 'PHOTO', caption: 'sunset', text: null });
    expect(fleet.photoUrl).toMatch(/^\/media\/fleets\/\d+-[0-9a-f]{32}-1080\.webp$/);
    const file = path.join(mediaDir, ...fleet.photoUrl.slice('/media/'.length).split('/'));
    expect(existsSync(file)).toBe(true);
    await must(Q.seen, { id: fleet.id }, fan);
    await must(Q.reply, { f: fleet.id, input: { text: 'wow' } }, fan);

    now = Date.parse(fleet.expiresAt) - 1_000;
    expect((await fetch(`${base}${fleet.photoUrl}`)).status).toBe(200);
    // Hold the sweeper off by taking a lock on the row: the GET must refuse on the key alone.
    const held = postgres(t.databaseUrl, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const locked = new Promise<void>((resolveLocked) => {
      void held.begin(async (tx) => {
        await tx`select 1 from fleets where id = ${rawId(fleet.id)} for update`;
        resolveLocked();
        await released;
      });
    });
    await locked;
    now = Date.parse(fleet.expiresAt);
    const expired = await fetch(`${base}${fleet.photoUrl}`);
    expect(expired.status).toBe(404);
    expect(existsSync(file)).toBe(true); // not swept yet: refused on the expiry in its key
    expect((await sql`select count(*)::int as n from fleets where id = ${rawId(fleet.id)}`)[0]!.n).toBe(1);
    release();
    await held.end();

    // The janitor (every 500 ms here) deletes the row, its views and replies, and the file.
    const deadline = Date.now() + 5_000;
    while (existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(file)).toBe(false);
    const [counts] = await sql`select
        (select count(*)::int from fleets where id = ${rawId(fleet.id)}) as fleets,
        (select count(*)::int from fleet_views where fleet_id = ${rawId(fleet.id)}) as views,
        (select count(*)::int from fleet_replies where fleet_id = ${rawId(fleet.id)}) as replies`;
    expect(counts).toEqual({ fleets: 0, views: 0, replies: 0 });
  });

  it('deletes photos uploaded and never posted after an hour; their ids no longer post', async () => {
    now = Date.parse('2026-12-02T10:00:00.000Z');
    const [author] = (await users(1, 'fu')) as [U];
    const up = await uploadPhoto(author, await redPhoto());
    const id = up.data!.uploadId.split('.')[0]!;
    const file = path.join(mediaDir, 'fleet-uploads', `${id}.webp`);
    expect(existsSync(file)).toBe(true);
    // Pending uploads are never served.
    expect((await fetch(`${base}/media/fleet-uploads/${id}.webp`)).status).toBe(404);
    now += 3_600_000;
    const deadline = Date.now() + 5_000;
    while (existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(file)).toBe(false);
    const r = await t.gql(Q.post, { input: { photoUploadId: up.data!.uploadId } }, { token: author.token });
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.extensions!.field).toBe('photoUploadId');
  });
});

describe('seen state, viewers and deletion', () => {
  it('keeps seen state per viewer; only the author sees the count and the viewers (paged)', async () => {
    now = Date.parse('2026-12-03T10:00:00.000Z');
    const [author, a, b, c] = (await users(4, 'fv')) as [U, U, U, U];
    for (const fan of [a, b, c]) await follow(fan, author);
    const fleet = await postText(author, 'Who is watching?');
    expect((await barOf(a))[0]).toMatchObject({ user: { id: author.id }, hasUnseen: true, fleets: [{ id: fleet.id, viewerHasSeen: false }] });

    now += 1_000;
    expect((await must(Q.seen, { id: fleet.id }, a)).markFleetSeen).toEqual({ id: fleet.id, viewerHasSeen: true });
    expect((await must(Q.seen, { id: fleet.id }, a)).markFleetSeen.viewerHasSeen).toBe(true); // idempotent
    now += 1_000;
    await must(Q.seen, { id: fleet.id }, b);
    await must(Q.seen, { id: fleet.id }, author); // the author's own view is not counted

    expect((await barOf(a))[0]).toMatchObject({ hasUnseen: false, fleets: [{ viewerHasSeen: true }] });
    expect((await barOf(c))[0]).toMatchObject({ hasUnseen: true, fleets: [{ viewerHasSeen: false }] });
    expect((await must(Q.node, { id: fleet.id }, author)).node.viewCount).toBe(2);
    expect((await must(Q.node, { id: fleet.id }, a)).node.viewCount).toBeNull();

    const VIEWERS = `query($id: ID!, $after: String) { node(id: $id) { ... on Fleet { viewers(first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } } }`;
    const first = (await must(VIEWERS, { id: fleet.id }, author)).node.viewers;
    expect(first.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([b.id]); // most recent first
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await must(VIEWERS, { id: fleet.id, after: first.pageInfo.endCursor }, author)).node.viewers;
    expect(second.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([a.id]);
    expect(second.pageInfo.hasNextPage).toBe(false);
    for (const other of [a, c, undefined]) {
      const r = await t.gql(VIEWERS, { id: fleet.id }, { token: other?.token });
      expect(codes(r)).toEqual(['FORBIDDEN']);
      const replies = await t.gql(`query($id: ID!) { node(id: $id) { ... on Fleet { replies { edges { node { id } } } } } }`, { id: fleet.id }, { token: other?.token });
      expect(codes(replies)).toEqual(['FORBIDDEN']);
    }
  });

  it('lets only the author delete a fleet, with its photo', async () => {
    now = Date.parse('2026-12-03T12:00:00.000Z');
    const [author, other] = (await users(2, 'fd')) as [U, U];
    const up = await uploadPhoto(author, await redPhoto());
    const fleet = (await must(Q.post, { input: { photoUploadId: up.data!.uploadId } }, author)).postFleet;
    const file = path.join(mediaDir, ...fleet.photoUrl.slice('/media/'.length).split('/'));
    expect(codes(await t.gql(Q.del, { id: fleet.id }, { token: other.token }))).toEqual(['FORBIDDEN']);
    expect((await must(Q.del, { id: fleet.id }, author)).deleteFleet).toBe(fleet.id);
    expect(existsSync(file)).toBe(false);
    expect((await must(Q.node, { id: fleet.id })).node).toBeNull();
    expect((await fetch(`${base}${fleet.photoUrl}`)).status).toBe(404);
    expect(codes(await t.gql(Q.del, { id: fleet.id }, { token: author.token }))).toEqual(['NOT_FOUND']);
    // The upload was consumed: it cannot make a second fleet.
    expect(codes(await t.gql(Q.post, { input: { photoUploadId: up.data!.uploadId } }, { token: author.token }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('postFleet input', () => {
  it('takes exactly one of text or photo, text by the text policy, and an uploader-bound upload id', async () => {
    now = Date.parse('2026-12-04T10:00:00.000Z');
    const [author, thief] = (await users(2, 'fi')) as [U, U];
    const refused = async (input: Record<string, unknown>, user: U = author) => {
      const r = await t.gql(Q.post, { input }, { token: user.token });
      expect(codes(r), JSON.stringify(input)).toEqual(['BAD_USER_INPUT']);
      return r.errors![0]!.extensions!.field;
    };
    expect(await refused({})).toBe('text');
    expect(await refused({ text: 'x'.repeat(281) })).toBe('text');
    expect(await refused({ text: 'safe\u202Eevil' })).toBe('text');
    expect(await refused({ text: 'hi', caption: 'no photo' })).toBe('caption');
    expect(await refused({ photoUploadId: 'made-up' })).toBe('photoUploadId');
    const up = await uploadPhoto(author, await redPhoto());
    expect(await refused({ text: 'both', photoUploadId: up.data!.uploadId })).toBe('text');
    expect(await refused({ photoUploadId: up.data!.uploadId }, thief)).toBe('photoUploadId'); // not theirs
    // A tampered id (another user's signature check) fails too.
    const [id, exp] = up.data!.uploadId.split('.');
    expect(await refused({ photoUploadId: `${id}.${Number(exp) + 3600}.${'A'.repeat(32)}` })).toBe('photoUploadId');
    expect((await postText(author, '🎷'.repeat(280))).text).toBe('🎷'.repeat(280));
    expect(codes(await t.gql(Q.post, { input: { text: 'x' } }))).toEqual(['UNAUTHENTICATED']);
  });

  it('limits posting to 30 fleets an hour and replying to 30 a minute', async () => {
    now = Date.parse('2026-12-04T10:30:00.000Z');
    const [busy, fan] = (await users(2, 'fq')) as [U, U];
    let last = '';
    for (let i = 0; i < 30; i++) last = (await postText(busy, `post ${i}`)).id;
    const over = await t.gql(Q.post, { input: { text: 'one too many' } }, { token: busy.token });
    expect(codes(over)).toEqual(['RATE_LIMITED']);
    expect(over.errors![0]!.extensions!.retryAfterMs).toBeGreaterThan(0);
    for (let i = 0; i < 30; i++) await must(Q.reply, { f: last, input: { emoji: '🔥' } }, fan);
    expect(codes(await t.gql(Q.reply, { f: last, input: { emoji: '🔥' } }, { token: fan.token }))).toEqual(['RATE_LIMITED']);
  });

  it('shares a live space ("I\'m live") only by its host or stage, and only while live', async () => {
    now = Date.parse('2026-12-04T11:00:00.000Z');
    const [host, other] = (await users(2, 'fl')) as [U, U];
    const space = (await must(`mutation { createSpace(input: { title: "Morning Jazz", speakerPolicy: EVERYONE }) { id state } }`, {}, host)).createSpace;
    expect(space.state).toBe('LIVE');
    const fleet = await postText(host, "I'm live", { spaceId: space.id });
    expect(fleet.space).toEqual({ id: space.id });
    const bare = (await must(Q.post, { input: { spaceId: space.id } }, host)).postFleet;
    expect(bare).toMatchObject({ kind: 'TEXT', text: null, space: { id: space.id } });
    expect(codes(await t.gql(Q.post, { input: { spaceId: space.id } }, { token: other.token }))).toEqual(['FORBIDDEN']);
    await must(`mutation($s: ID!) { endSpace(spaceId: $s) { id } }`, { s: space.id }, host);
    expect(codes(await t.gql(Q.post, { input: { spaceId: space.id } }, { token: host.token }))).toEqual(['CONFLICT']);
  });
});

describe('the reply policy matrix', () => {
  type Relation = 'followsAuthor' | 'followedByAuthor' | 'mutual' | 'none' | 'self' | 'guest';
  const RELATIONS: Relation[] = ['followsAuthor', 'followedByAuthor', 'mutual', 'none', 'self', 'guest'];
  const POLICIES = ['EVERYONE', 'FOLLOWING', 'NOBODY'] as const;
  /** null: allowed; otherwise the FORBIDDEN reason. */
  const expected = (relation: Relation, policy: (typeof POLICIES)[number]): string | null => {
    if (relation === 'self') return 'OWN';
    if (relation === 'guest') return 'GUEST';
    if (policy === 'NOBODY') return 'NOBODY';
    if (policy === 'FOLLOWING') return relation === 'followedByAuthor' || relation === 'mutual' ? null : 'NOT_FOLLOWED';
    return null;
  };

  it('is enforced by the server for every relation × setting, and viewerReplyRefusal says the same', async () => {
    now = Date.parse('2026-12-05T10:00:00.000Z');
    const [author, followsAuthor, followedByAuthor, mutual, none] = (await users(5, 'fm')) as [U, U, U, U, U];
    await follow(followsAuthor, author);
    await follow(author, followedByAuthor);
    await follow(author, mutual);
    await follow(mutual, author);
    const guestSession = (await must(`mutation { startGuestSession { token user { id } } }`, {})).startGuestSession;
    const guest: U = { id: guestSession.user.id, token: guestSession.token, handle: '' };
    const actors: Record<Relation, U> = { followsAuthor, followedByAuthor, mutual, none, self: author, guest };

    const table: Record<string, string> = {};
    const want: Record<string, string> = {};
    for (const policy of POLICIES) {
      // Per fleet, and as the default a fleet without one takes.
      await must(Q.setDefault, { p: policy }, author);
      const fleet = await postText(author, `policy ${policy}`);
      expect(fleet.replyPolicy).toBe(policy);
      for (const relation of RELATIONS) {
        const actor = actors[relation];
        const key = `${relation} × ${policy}`;
        want[key] = expected(relation, policy) ?? 'OK';
        const r = await t.gql(Q.reply, { f: fleet.id, input: { emoji: '👏' } }, { token: actor.token });
        table[key] = r.errors ? `${r.errors[0]!.extensions!.code}:${r.errors[0]!.extensions!.reason}` : 'OK';
        if (want[key] !== 'OK') want[key] = `FORBIDDEN:${want[key]}`;
        const seen = (await must(Q.node, { id: fleet.id }, actor)).node;
        expect(seen.viewerReplyRefusal, key).toBe(expected(relation, policy));
        expect(seen.viewerCanReply, key).toBe(expected(relation, policy) === null);
      }
    }
    expect(table).toEqual(want);
    // A per-fleet choice overrides the default.
    const open = await postText(author, 'open', { replyPolicy: 'EVERYONE' });
    expect(open.replyPolicy).toBe('EVERYONE');
    expect((await must(Q.setDefault, { p: 'FOLLOWING' }, author)).setDefaultReplyPolicy.defaultReplyPolicy).toBe('FOLLOWING');
    // Nobody else reads someone's default.
    expect((await must(`query($h: String!) { user(handle: $h) { defaultReplyPolicy } }`, { h: author.handle }, none)).user.defaultReplyPolicy).toBeNull();
  });

  it("sends replies privately to the author, who reads them per fleet and is notified", async () => {
    now = Date.parse('2026-12-05T12:00:00.000Z');
    const [author, fan, other] = (await users(3, 'fr')) as [U, U, U];
    const fleet = await postText(author, 'Ask me anything');
    now += 1_000;
    const text = (await must(Q.reply, { f: fleet.id, input: { text: '  nice   one ' } }, fan)).replyToFleet;
    expect(text).toMatchObject({ text: 'nice one', emoji: null, author: { id: fan.id }, fleet: { id: fleet.id } });
    now += 1_000;
    await must(Q.reply, { f: fleet.id, input: { emoji: '❤️' } }, other);
    expect(codes(await t.gql(Q.reply, { f: fleet.id, input: { emoji: '🦄' } }, { token: fan.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(Q.reply, { f: fleet.id, input: { text: 'a', emoji: '❤️' } }, { token: fan.token }))).toEqual(['BAD_USER_INPUT']);

    const REPLIES = `query($id: ID!) { node(id: $id) { ... on Fleet { replies { edges { node { text emoji author { id } } } } } } }`;
    const replies = (await must(REPLIES, { id: fleet.id }, author)).node.replies.edges.map((e: { node: unknown }) => e.node);
    expect(replies).toEqual([
      { text: null, emoji: '❤️', author: { id: other.id } },
      { text: 'nice one', emoji: null, author: { id: fan.id } },
    ]);
    // A reply is a node only for the two people it concerns.
    expect((await must(`query($id: ID!) { node(id: $id) { id } }`, { id: text.id }, other)).node).toBeNull();
    expect((await must(`query($id: ID!) { node(id: $id) { id } }`, { id: text.id }, author)).node).toEqual({ id: text.id });

    const NOTES = `{ notifications { edges { node { kind actor { id } fleet { id } space { id } } } } }`;
    const notes = (await must(NOTES, {}, author)).notifications.edges.map((e: { node: unknown }) => e.node);
    expect(notes).toEqual(
      expect.arrayContaining([
        { kind: 'FLEET_REPLY', actor: { id: fan.id }, fleet: { id: fleet.id }, space: null },
        { kind: 'FLEET_REPLY', actor: { id: other.id }, fleet: { id: fleet.id }, space: null },
      ]),
    );
    expect(notes).toHaveLength(2);
    expect((await must(NOTES, {}, fan)).notifications.edges).toEqual([]);
  });
});

describe('the fleets bar', () => {
  it("puts the viewer's own first, then unseen before seen, then the most recent", async () => {
    now = Date.parse('2026-12-06T10:00:00.000Z');
    const [viewer, a, b, c, stranger] = (await users(5, 'fb')) as [U, U, U, U, U];
    for (const x of [a, b, c]) await follow(viewer, x);
    const posts: Record<string, string> = {};
    for (const [name, author] of [['a', a], ['b', b], ['c', c], ['stranger', stranger], ['viewer', viewer]] as const) {
      now += 60_000;
      posts[name] = (await postText(author, `from ${name}`)).id;
    }
    now += 60_000;
    await postText(a, 'a again'); // a now has the most recent fleet
    await must(Q.seen, { id: posts.c }, viewer);
    const order = (await barOf(viewer)).map((e) => e.user.id);
    // Own; then unseen a (latest at +6 min), b (+2 min); then seen c. The stranger is not followed.
    expect(order).toEqual([viewer.id, a.id, b.id, c.id]);
    const bar = await barOf(viewer);
    expect(bar[0]!.hasUnseen).toBe(false);
    expect(bar[1]!.fleets).toHaveLength(2); // oldest first
    expect(bar[1]!.fleets[0]!.id).toBe(posts.a);
    expect(await barOf(stranger)).toEqual([expect.objectContaining({ user: { id: stranger.id } })]);
    // Signed out: empty.
    expect((await t.gql(Q.bar)).data!.fleetsBar).toEqual([]);
  });
});

describe('the fleetsBar subscription across two API instances', () => {
  let second: App;
  let secondDb: DbHandle;
  beforeAll(async () => {
    secondDb = await createDb({ url: t.databaseUrl, migrate: false });
    second = await buildApp({
      database: secondDb,
      serveWeb: false,
      port: 0,
      host: '127.0.0.1',
      pubsub: 'postgres',
      presenceGraceMs: 600_000,
      mediaDir,
      clock,
      fleetExpiryCheckMs: 50,
    });
  });
  afterAll(async () => {
    await second?.stop();
    await secondDb?.close();
  });

  it('re-emits on post, delete and seen (made on instance one) and on expiry, to a subscriber on instance two', async () => {
    now = Date.parse('2026-12-07T10:00:00.000Z');
    const [author, fan, stranger] = (await users(3, 'fw')) as [U, U, U];
    await follow(fan, author);
    const url = await second.start();
    const client = wsClient(url, { token: fan.token });
    type Bar = { user: { id: string }; hasUnseen: boolean; fleets: { id: string }[] }[];
    const sub = subscribe<Bar>(client, `subscription { fleetsBar { user { id } hasUnseen fleets { id } } }`, {}, (d) => d.fleetsBar);
    try {
      await sub.waitFor((bar) => bar.length === 0); // sent at once
      const ids = (bar: Bar) => bar.flatMap((e) => e.fleets.map((f) => f.id));
      const first = await postText(author, 'one');
      await sub.waitFor((bar) => ids(bar).includes(first.id));
      now += 60_000;
      const two = await postText(author, 'two');
      await sub.waitFor((bar) => ids(bar).join() === [first.id, two.id].join());
      const beforeDelete = sub.events.length;
      await must(Q.del, { id: two.id }, author);
      await sub.waitFor((bar) => ids(bar).join() === first.id && sub.events.indexOf(bar) >= beforeDelete);
      // The fan sees it (on instance one): their bar, on instance two, turns the ring seen.
      await must(`mutation($id: ID!) { markFleetSeen(id: $id) { id } }`, { id: first.id }, fan);
      await sub.waitFor((bar) => bar[0]?.hasUnseen === false);
      // Seeing it again changes nothing, and nobody else's seeing reaches the fan's bar.
      const afterSeen = sub.events.length;
      await must(`mutation($id: ID!) { markFleetSeen(id: $id) { id } }`, { id: first.id }, fan);
      await must(`mutation($id: ID!) { markFleetSeen(id: $id) { id } }`, { id: first.id }, stranger);
      // Someone the fan does not follow: no new bar.
      const before = sub.events.length;
      expect(before).toBe(afterSeen);
      await postText(stranger, 'not for you');
      // The expiry of the first fleet empties the bar (the subscription times it).
      now = Date.parse(first.expiresAt) - 1_000;
      await new Promise((r) => setTimeout(r, 300));
      expect(sub.events.length).toBe(before); // neither the stranger's post nor 23:59:59 re-emitted
      now = Date.parse(first.expiresAt);
      await sub.waitFor((bar) => bar.length === 0 && sub.events.length > before);
      expect(sub.errors).toEqual([]);
    } finally {
      await sub.close();
      await client.dispose();
    }
  });
});
