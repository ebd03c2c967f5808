import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import postgres from 'postgres';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { startTestApp, type TestApp } from '../support/app.ts';
import { EVENTS, must, Q, users } from '../support/spaces.ts';
import { subscribe, wsClient } from '../support/ws.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ pubsub: 'postgres' });
});
afterAll(() => t?.close());

describe('two API instances on one PostgreSQL', () => {
  let second: App;
  let secondDb: DbHandle;
  beforeAll(async () => {
    // A second instance with its own pool and its own LISTEN connection, like a second server.
    secondDb = await createDb({ url: t.databaseUrl, migrate: true });
    second = await buildApp({ database: secondDb, serveWeb: false, port: 0, host: '127.0.0.1', pubsub: 'postgres', presenceGraceMs: 600_000 }); // as startTestApp's
  });
  afterAll(async () => {
    await second?.stop();
    await secondDb?.close();
  });

  it('delivers an event made on one instance to a subscriber on the other (LISTEN/NOTIFY)', async () => {
    const [host, fan] = await users(t, 2, 'two');
    const { createSpace } = await must(t, Q.create, { input: { title: 'Across', speakerPolicy: 'EVERYONE' } }, host);
    const s = createSpace.id;
    const url = await second.start();
    const client = wsClient(url);
    const sub = subscribe<any>(client, EVENTS, { s }, (d) => d.spaceEvents);
    await new Promise((r) => setTimeout(r, 200));
    // The mutations run on instance one (in-process fetch); the subscriber is on instance two.
    await must(t, Q.join, { s }, fan);
    await must(t, Q.react, { s, e: '🔥' }, fan);
    await sub.waitFor((e) => e.kind === 'REACTION');
    expect(sub.events.map((e) => e.kind)).toEqual(['PARTICIPANT_JOINED', 'REACTION']);
    expect(sub.events[0].user.id).toBe(fan!.id);
    await client.dispose();
  });

  it('runs the migrations once when two instances start together on an empty database', async () => {
    const admin = postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });
    const name = `fresh_${Date.now()}`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(inject('pgAdminUrl'));
    url.pathname = `/${name}`;
    // Without the advisory lock the second would fail on "type already exists".
    const [a, b] = await Promise.all([createDb({ url: url.toString() }), createDb({ url: url.toString() })]);
    const rows = await a.sql!`select count(*)::int as n from drizzle.__drizzle_migrations`;
    const { readdirSync } = await import('node:fs');
    const { migrationsFolder } = await import('@spaces/db');
    const expected = readdirSync(migrationsFolder, { withFileTypes: true }).filter((d) => d.isDirectory()).length;
    expect(expected).toBeGreaterThan(0);
    expect(rows[0]!.n).toBe(expected);
    await a.close();
    await b.close();
    await admin.unsafe(`drop database ${name} with (force)`);
    await admin.end();
  });
});

describe('counts under load', () => {
  it('stays exact under 200 concurrent joins and leaves', async () => {
    const [host, ...crowd] = await users(t, 201, 'cr');
    const { createSpace } = await must(t, Q.create, { input: { title: 'Crowd', speakerPolicy: 'EVERYONE' } }, host);
    const s = createSpace.id;
    const counts = `query($s: ID!) { space(id: $s) { participantCount listenerCount participants(first: 100) { edges { node { id } } } } }`;
    const joins = await Promise.all(crowd.map((u) => t.gql(Q.join, { s }, { token: u.token })));
    expect(joins.flatMap((r) => r.errors ?? [])).toEqual([]);
    expect((await must(t, counts, { s })).space).toMatchObject({ participantCount: 201, listenerCount: 200 });
    // Half leave while the other half joins again (idempotent) and a few leave twice.
    const mixed = await Promise.all([
      ...crowd.slice(0, 100).map((u) => t.gql(Q.leave, { s }, { token: u.token })),
      ...crowd.slice(100).map((u) => t.gql(Q.join, { s }, { token: u.token })),
      ...crowd.slice(0, 10).map((u) => t.gql(Q.leave, { s }, { token: u.token })),
    ]);
    expect(mixed.flatMap((r) => r.errors ?? [])).toEqual([]);
    const after = (await must(t, counts, { s })).space;
    expect(after).toMatchObject({ participantCount: 101, listenerCount: 100 });
    // And the list agrees with the count, page by page.
    let seen = 0;
    let cursor: string | null = null;
    for (;;) {
      const page: any = (await must(t, `query($s: ID!, $a: String) { space(id: $s) { participants(first: 40, after: $a) {
        edges { node { id role } } pageInfo { hasNextPage endCursor } } } }`, { s, a: cursor })).space.participants;
      if (seen === 0) expect(page.edges[0].node.role).toBe('HOST');
      seen += page.edges.length;
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor;
    }
    expect(seen).toBe(101);
  }, 120_000);
});

describe('spaces bar', () => {
  it('lists live spaces of followed hosts and stage members, and re-sends on change', async () => {
    const [viewer, hostA, hostB, guest] = await users(t, 4, 'bar');
    await must(t, Q.follow, { u: hostA!.id }, viewer);
    await must(t, Q.follow, { u: guest!.id }, viewer);
    const base = await t.app.start();
    const client = wsClient(base, { token: viewer!.token });
    const sub = subscribe<{ id: string }[]>(client, `subscription { spacesBar { id title } }`, {}, (d) => d.spacesBar);
    await sub.waitFor((bar) => bar.length === 0);

    const a = (await must(t, Q.create, { input: { title: 'A', speakerPolicy: 'EVERYONE' } }, hostA)).createSpace.id;
    await sub.waitFor((bar) => bar.length === 1 && bar[0]!.id === a);

    // Not followed: hostB's space appears only once a followed account takes its stage.
    const b = (await must(t, Q.create, { input: { title: 'B', speakerPolicy: 'EVERYONE' } }, hostB)).createSpace.id;
    await must(t, Q.join, { s: b }, guest);
    expect((await t.gql(`{ spacesBar { id } }`, {}, { token: viewer!.token })).data!.spacesBar).toHaveLength(1);
    await must(t, Q.raise, { s: b, r: true }, guest);
    await must(t, Q.role, { s: b, u: guest!.id, role: 'SPEAKER' }, hostB);
    await sub.waitFor((bar) => bar.length === 2);

    await must(t, Q.end, { s: a }, hostA);
    await sub.waitFor((bar) => bar.length === 1 && bar[0]!.id === b);
    await must(t, Q.unfollow, { u: guest!.id }, viewer);
    await sub.waitFor((bar) => bar.length === 0 && sub.events.length >= 5);
    // Sent only on change: the five states above, no duplicates in between.
    expect(sub.events.map((bar) => bar.length)).toEqual([0, 1, 2, 1, 0]);
    await client.dispose();
  });

  it('needs a signed-in viewer', async () => {
    const base = await t.app.start();
    const client = wsClient(base);
    const sub = subscribe(client, `subscription { spacesBar { id } }`);
    await expect.poll(() => sub.errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(sub.errors)).toContain('UNAUTHENTICATED');
    await client.dispose();
  });
});

describe('WebSocket cookie sessions', () => {
  it('accepts the session cookie from our own origin only', async () => {
    const [u] = await users(t, 1, 'wc');
    const base = await t.app.start();
    const signIn = await t.gql(`mutation($i: SignInInput!) { signIn(input: $i) { token } }`, {
      i: { handle: u!.handle, password: 'correct horse battery' },
    });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const viewerOnce = async (origin: string) => {
      const client = wsClient(base, { headers: { cookie, origin } });
      const sub = subscribe<any>(client, `subscription { spacesBar { id } }`, {}, (d) => d.spacesBar);
      await expect.poll(() => sub.events.length + sub.errors.length).toBeGreaterThan(0);
      await client.dispose();
      return sub;
    };
    expect((await viewerOnce(base)).events).toEqual([[]]);
    expect(JSON.stringify((await viewerOnce('https://evil.example')).errors)).toContain('UNAUTHENTICATED');
  });
});
