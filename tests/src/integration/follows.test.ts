import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, handle, startTestApp, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const FOLLOW = `mutation($id: ID!) { follow(userId: $id) { id followerCount viewerFollows followsViewer } }`;
const UNFOLLOW = `mutation($id: ID!) { unfollow(userId: $id) { id followerCount viewerFollows } }`;
const COUNTS = `query($h: String!) { user(handle: $h) { followerCount followingCount } }`;

describe('follow / unfollow', () => {
  it('follows once however often it is called, and counts both sides', async () => {
    const a = await t.signUp(handle('fa'));
    const b = await t.signUp(handle('fb'));
    const first = await t.gql(FOLLOW, { id: b.id }, { token: a.token });
    expect(first.errors).toBeUndefined();
    expect(first.data!.follow).toMatchObject({ id: b.id, followerCount: 1, viewerFollows: true, followsViewer: false });
    const again = await t.gql(FOLLOW, { id: b.id }, { token: a.token });
    expect(again.data!.follow.followerCount).toBe(1);
    expect((await t.gql(COUNTS, { h: a.handle })).data!.user).toEqual({ followerCount: 0, followingCount: 1 });
    // b's view of a: a follows b.
    const back = await t.gql(`query($h: String!) { user(handle: $h) { followsViewer viewerFollows } }`, { h: a.handle }, { token: b.token });
    expect(back.data!.user).toEqual({ followsViewer: true, viewerFollows: false });

    const un = await t.gql(UNFOLLOW, { id: b.id }, { token: a.token });
    expect(un.data!.unfollow).toMatchObject({ followerCount: 0, viewerFollows: false });
    const unAgain = await t.gql(UNFOLLOW, { id: b.id }, { token: a.token });
    expect(unAgain.data!.unfollow.followerCount).toBe(0);
    expect((await t.gql(COUNTS, { h: a.handle })).data!.user).toEqual({ followerCount: 0, followingCount: 0 });
  });

  it('refuses self-follow, unknown users, malformed ids and ids of another type', async () => {
    const a = await t.signUp(handle('fs'));
    expect(codes(await t.gql(FOLLOW, { id: a.id }, { token: a.token }))).toEqual(['BAD_USER_INPUT']);
    const unknownUser = Buffer.from('User:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect(codes(await t.gql(FOLLOW, { id: unknownUser }, { token: a.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(FOLLOW, { id: 'garbage!' }, { token: a.token }))).toEqual(['BAD_USER_INPUT']);
    const spaceId = Buffer.from('Space:00000000-0000-4000-8000-000000000000').toString('base64url');
    const wrongType = await t.gql(FOLLOW, { id: spaceId }, { token: a.token });
    expect(codes(wrongType)).toEqual(['BAD_USER_INPUT']);
    expect(wrongType.errors![0]!.message).toContain('expected a User id');
  });

  it('needs a signed-in viewer', async () => {
    const b = await t.signUp(handle('fu'));
    expect(codes(await t.gql(FOLLOW, { id: b.id }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(UNFOLLOW, { id: b.id }))).toEqual(['UNAUTHENTICATED']);
  });

  it('keeps counts exact under 50 concurrent follows (and a burst of duplicates)', async () => {
    const star = await t.signUp(handle('star'));
    const fans = await Promise.all(Array.from({ length: 50 }, (_, i) => t.signUp(handle(`n${i}`))));
    // Every fan follows twice, all at once: 100 concurrent calls, 50 real follows.
    const results = await Promise.all(
      fans.flatMap((f) => [t.gql(FOLLOW, { id: star.id }, { token: f.token }), t.gql(FOLLOW, { id: star.id }, { token: f.token })]),
    );
    expect(results.flatMap((r) => r.errors ?? [])).toEqual([]);
    expect((await t.gql(COUNTS, { h: star.handle })).data!.user.followerCount).toBe(50);
    await Promise.all(fans.slice(0, 20).map((f) => t.gql(UNFOLLOW, { id: star.id }, { token: f.token })));
    expect((await t.gql(COUNTS, { h: star.handle })).data!.user.followerCount).toBe(30);
    const one = await t.gql(COUNTS, { h: fans[25]!.handle });
    expect(one.data!.user.followingCount).toBe(1);
  });
});

describe('followers / following pagination', () => {
  it('pages through all followers newest first, without gaps or repeats', async () => {
    const star = await t.signUp(handle('pg'));
    const fans = [];
    for (let i = 0; i < 7; i++) {
      const f = await t.signUp(handle(`p${i}`));
      await t.gql(FOLLOW, { id: star.id }, { token: f.token });
      fans.push(f);
    }
    const PAGE = `query($h: String!, $after: String) { user(handle: $h) { followers(first: 3, after: $after) {
      edges { cursor node { id handle } } pageInfo { hasNextPage endCursor } } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const r: any = await t.gql(PAGE, { h: star.handle, after });
      expect(r.errors).toBeUndefined();
      const conn: any = r.data!.user.followers;
      seen.push(...conn.edges.map((e: any) => e.node.id));
      pages++;
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(fans.map((f) => f.id).reverse());

    const following = await t.gql(`query($h: String!) { user(handle: $h) { following(first: 10) { edges { node { id } } pageInfo { hasNextPage } } } }`, { h: fans[0]!.handle });
    expect(following.data!.user.following.edges.map((e: any) => e.node.id)).toEqual([star.id]);
    expect(following.data!.user.following.pageInfo.hasNextPage).toBe(false);
  });

  it('caps `first` at 100 and rejects negative sizes and bad cursors', async () => {
    const u = await t.signUp(handle('cap'));
    const q = `query($h: String!, $first: Int, $after: String) { user(handle: $h) { followers(first: $first, after: $after) { edges { cursor } } } }`;
    expect((await t.gql(q, { h: u.handle, first: 100 })).errors).toBeUndefined();
    const tooMany = await t.gql(q, { h: u.handle, first: 101 });
    expect(codes(tooMany)).toEqual(['BAD_USER_INPUT']);
    expect(tooMany.errors![0]!.message).toContain('first');
    expect(codes(await t.gql(q, { h: u.handle, first: -1 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(q, { h: u.handle, after: 'not-a-cursor' }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('node', () => {
  it('fetches a user by global id and answers null for unknown or malformed ids', async () => {
    const u = await t.signUp(handle('nd'));
    const r = await t.gql(`query($id: ID!) { node(id: $id) { id ... on User { handle } } }`, { id: u.id });
    expect(r.data!.node).toEqual({ id: u.id, handle: u.handle });
    const unknown = Buffer.from('User:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect((await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: unknown })).data!.node).toBeNull();
    expect((await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: '!!' })).data!.node).toBeNull();
  });
});
