import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '@spaces/api';
import { createDb } from '@spaces/db';
import { codes, startTestApp, type TestApp } from '../support/app.ts';
import { must, Q, type U } from '../support/spaces.ts';

/**
 * People and spaces search (pg_trgm: substring and near spellings, ranked, keyset-paged) and
 * suggested people, on PostgreSQL; and the same search on embedded PGlite. This file's database
 * is its own, so the handles below are the only accounts in it.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const PEOPLE = `query($q: String!, $first: Int, $after: String) {
  search(query: $q, first: $first, after: $after) { edges { cursor node { handle displayName } } pageInfo { hasNextPage endCursor } } }`;
const SPACES = `query($q: String!, $first: Int, $after: String) {
  searchSpaces(query: $q, first: $first, after: $after) { edges { node { id title state } } pageInfo { hasNextPage endCursor } } }`;
const SUGGESTED = `query($first: Int) { suggestedUsers(first: $first) { user { handle } followedByFollowingCount followedBy { handle } } }`;

async function people(q: string, first?: number, after?: string | null) {
  const r = await t.gql(PEOPLE, { q, first, after });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!.search as { edges: { node: { handle: string; displayName: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}
const handles = async (q: string, first?: number) => (await people(q, first)).edges.map((e) => e.node.handle);

async function followMany(follower: U, followees: U[]) {
  for (const f of followees) await must(t, Q.follow, { u: f.id }, follower);
}

describe('search (people)', () => {
  let hana: U, hanako: U, jo: U, under: U, plain: U;
  beforeAll(async () => {
    hana = await t.signUp('hana', 'Hana Sato');
    hanako = await t.signUp('hanako_m', 'Hanako Mori');
    jo = await t.signUp('jo_reads', 'Jo, loves Hana’s shows');
    under = await t.signUp('a_b', 'Under Score');
    plain = await t.signUp('axb', 'No Underscore');
    const fans = await Promise.all(['fan1', 'fan2', 'fan3'].map((h) => t.signUp(h)));
    // hanako_m is more followed than jo_reads.
    for (const f of fans) await must(t, Q.follow, { u: hanako.id }, f);
    void [hana, jo, under, plain];
  });

  it('ranks the exact handle, then handles starting with it, then names with a word starting with it, then the rest', async () => {
    expect(await handles('hana')).toEqual(['hana', 'hanako_m', 'jo_reads']);
    expect(await handles('@HANA')).toEqual(['hana', 'hanako_m', 'jo_reads']); // case and a leading @ do not matter
    expect(await handles('mori')).toEqual(['hanako_m']); // a word of the display name
    expect(await handles('sato')).toEqual(['hana']);
  });

  it('finds near spellings from 4 characters on', async () => {
    expect(await handles('hanna')).toContain('hana');
    expect(await handles('hanako mory')).toContain('hanako_m');
    expect(await handles('zzqx')).toEqual([]);
  });

  it('matches %, _ and \\ literally', async () => {
    expect(await handles('a_b')).toEqual(['a_b']); // not axb
    expect(await handles('%')).toEqual([]);
    expect(await handles('\\')).toEqual([]);
  });

  it('pages through every match once, in order', async () => {
    const many = await Promise.all(Array.from({ length: 23 }, (_, i) => t.signUp(`pager${String(i).padStart(2, '0')}`, `Pager ${i}`)));
    // A few followers make the order by followers visible.
    await followMany(many[5]!, [many[7]!, many[9]!]);
    await followMany(many[6]!, [many[9]!]);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await people('pager', 5, after);
      seen.push(...page.edges.map((e) => e.node.handle));
      pages++;
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(5);
    expect(seen).toHaveLength(23);
    expect(new Set(seen).size).toBe(23);
    expect(seen.slice(0, 2)).toEqual(['pager09', 'pager07']); // most followed first among equal matches
    expect((await handles('pager', 100))).toEqual(seen);
  });

  it('answers bad input with coded errors, and an empty query with nothing', async () => {
    expect((await people('   ')).edges).toEqual([]);
    expect((await people('@')).edges).toEqual([]);
    expect(codes(await t.gql(PEOPLE, { q: 'x'.repeat(101) }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(PEOPLE, { q: 'a\u202Eb' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(PEOPLE, { q: 'hana', after: 'garbage' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(PEOPLE, { q: 'hana', first: 101 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(PEOPLE, { q: 'hana', first: -1 }))).toEqual(['BAD_USER_INPUT']);
    // A cursor from the spaces search does not fit here either.
    const spacesCursor = Buffer.from(JSON.stringify([0, 0, new Date().toISOString(), '00000000-0000-0000-0000-000000000000'])).toString('base64url');
    expect(codes(await t.gql(PEOPLE, { q: 'hana', after: spacesCursor }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('searchSpaces', () => {
  it('finds live spaces first (newest first), then scheduled ones (soonest first); never ended ones; paged', async () => {
    const hosts = await Promise.all(Array.from({ length: 5 }, (_, i) => t.signUp(`jazzhost${i}`)));
    const create = (host: U, title: string, scheduledFor?: string) =>
      must(t, Q.create, { input: { title, speakerPolicy: 'EVERYONE', ...(scheduledFor ? { scheduledFor } : {}) } }, host).then(
        (d) => d.createSpace as { id: string; title: string },
      );
    const liveOld = await create(hosts[0]!, 'Late night jazz');
    await new Promise((r) => setTimeout(r, 20));
    const liveNew = await create(hosts[1]!, 'Jazz standards live');
    const ended = await create(hosts[2]!, 'Jazz that ended');
    await must(t, Q.end, { s: ended.id }, hosts[2]!);
    const soon = await create(hosts[3]!, 'Jazz brunch', new Date(Date.now() + 3_600_000).toISOString());
    const later = await create(hosts[3]!, 'Free jazz later', new Date(Date.now() + 7_200_000).toISOString());
    await create(hosts[4]!, 'Rock hour');

    const r = await t.gql(SPACES, { q: 'jazz' });
    const found = r.data!.searchSpaces.edges.map((e: { node: { id: string } }) => e.node.id);
    // Live: word-prefix matches first ("Jazz standards", "Late night jazz" both have a word
    // starting with jazz), newest first; then scheduled, soonest first.
    expect(found).toEqual([liveNew.id, liveOld.id, soon.id, later.id]);
    expect(found).not.toContain(ended.id);

    // Page by page gives the same order, each once.
    const paged: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } = (
        await t.gql(SPACES, { q: 'jazz', first: 1, after })
      ).data!.searchSpaces;
      paged.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(paged).toEqual(found);
    // Near spelling; substring inside a word.
    expect((await t.gql(SPACES, { q: 'jaz standards' })).data!.searchSpaces.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(liveNew.id);
    expect((await t.gql(SPACES, { q: 'runc' })).data!.searchSpaces.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([soon.id]);
    expect(codes(await t.gql(SPACES, { q: 'jazz', after: 'nope' }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('suggestedUsers', () => {
  it('suggests to a new account the most followed people; then people followed by those it follows, saying by whom', async () => {
    const [star, friend, friend2, fof, me] = await Promise.all(['sg_star', 'sg_friend', 'sg_friend2', 'sg_fof', 'sg_new'].map((h) => t.signUp(h)));
    const fans = await Promise.all(Array.from({ length: 5 }, (_, i) => t.signUp(`sg_fan${i}`)));
    for (const f of fans) await must(t, Q.follow, { u: star!.id }, f); // star: 5 followers, more than anyone else here

    // A brand-new account: the most followed first; never itself.
    const fresh = (await t.gql(SUGGESTED, { first: 3 }, { token: me!.token })).data!.suggestedUsers;
    expect(fresh[0]).toEqual({ user: { handle: 'sg_star' }, followedByFollowingCount: 0, followedBy: [] });
    expect(fresh).toHaveLength(3);
    expect(fresh.map((s: { user: { handle: string } }) => s.user.handle)).not.toContain('sg_new');

    // me follows friend and friend2; both follow fof: fof comes first, with who follows them.
    await followMany(friend!, [fof!]);
    await followMany(friend2!, [fof!]);
    await followMany(me!, [friend!, friend2!]);
    const after = (await t.gql(SUGGESTED, { first: 100 }, { token: me!.token })).data!.suggestedUsers;
    expect(after[0].user.handle).toBe('sg_fof');
    expect(after[0].followedByFollowingCount).toBe(2);
    expect(after[0].followedBy.map((u: { handle: string }) => u.handle).sort()).toEqual(['sg_friend', 'sg_friend2']);
    const suggested = after.map((s: { user: { handle: string } }) => s.user.handle);
    expect(suggested).not.toContain('sg_friend'); // already followed
    expect(suggested).not.toContain('sg_new');
    expect(suggested[1]).toBe('sg_star');

    // Signed out: the most followed.
    const anonymous = (await t.gql(SUGGESTED, { first: 1 })).data!.suggestedUsers;
    expect(anonymous).toEqual([{ user: { handle: 'sg_star' }, followedByFollowingCount: 0, followedBy: [] }]);
    expect(codes(await t.gql(SUGGESTED, { first: 500 }))).toEqual(['BAD_USER_INPUT']);
  });

  it('is empty, not an error, when there is nobody to suggest', async () => {
    const alone = await startTestApp();
    try {
      const me = await alone.signUp('only_one');
      const r = await alone.gql(SUGGESTED, {}, { token: me.token });
      expect(r.errors).toBeUndefined();
      expect(r.data!.suggestedUsers).toEqual([]);
      expect((await alone.gql(PEOPLE, { q: 'only' })).data!.search.edges).toHaveLength(1);
    } finally {
      await alone.close();
    }
  });
});

describe('search on embedded PGlite', () => {
  it('loads pg_trgm: substring, near-spelling and ranked search work as on PostgreSQL', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spaces-pglite-search-'));
    const db = await createDb({ dataDir: dir });
    const app = await buildApp({ database: db, serveWeb: false, port: 0, host: '127.0.0.1' });
    try {
      const gql = async (query: string, variables: Record<string, unknown> = {}) =>
        (await (
          await app.yoga.fetch('http://spaces.test/graphql', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query, variables }),
          })
        ).json()) as { data?: any; errors?: unknown[] };
      for (const [h, name] of [['hana', 'Hana Sato'], ['hanako_m', 'Hanako Mori'], ['bob', 'Bob']])
        await gql(`mutation($i: SignUpInput!) { signUp(input: $i) { token } }`, { i: { handle: h, displayName: name, password: 'long enough' } });
      const found = async (q: string) => (await gql(PEOPLE, { q })).data.search.edges.map((e: { node: { handle: string } }) => e.node.handle);
      expect(await found('hana')).toEqual(['hana', 'hanako_m']);
      expect(await found('hanna')).toContain('hana');
      expect(await found('mori')).toEqual(['hanako_m']);
      const indexes = (await db.db.execute(`select indexname from pg_indexes where indexname like '%trgm%' order by 1`)) as unknown as
        | { rows: { indexname: string }[] }
        | { indexname: string }[];
      const names = ('rows' in indexes ? indexes.rows : indexes).map((r) => r.indexname);
      expect(names).toEqual(['spaces_title_trgm_idx', 'users_display_name_trgm_idx', 'users_handle_trgm_idx']);
    } finally {
      await app.stop();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
