import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';

/**
 * `pnpm start` with no DATABASE_URL: embedded PGlite in a folder, migrated at start. PostgreSQL
 * is the truth for everything else; this checks the embedded path works end to end and keeps data.
 */
let dir: string;
let db: DbHandle;
let app: App;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'spaces-pglite-'));
  db = await createDb({ dataDir: dir });
  app = await buildApp({ database: db, serveWeb: false, port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.stop();
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function gql(query: string, variables: Record<string, unknown> = {}, token?: string) {
  const response = await app.yoga.fetch('http://spaces.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
}

describe('embedded PGlite', () => {
  it('runs accounts, follows and a space, and keeps the data across a reopen', async () => {
    expect(db.kind).toBe('pglite');
    const signUp = (handle: string) =>
      gql(`mutation($i: SignUpInput!) { signUp(input: $i) { token user { id } } }`, {
        i: { handle, displayName: handle, password: 'long enough' },
      });
    const a = (await signUp('pg_host')).data.signUp;
    const b = (await signUp('pg_fan')).data.signUp;
    expect((await signUp('PG_HOST')).errors?.[0]?.extensions?.code).toBe('CONFLICT');
    await gql(`mutation($u: ID!) { follow(userId: $u) { id } }`, { u: a.user.id }, b.token);
    const space = (
      await gql(`mutation { createSpace(input: { title: "Embedded", speakerPolicy: FOLLOWING }) { id state } }`, {}, a.token)
    ).data.createSpace;
    expect(space.state).toBe('LIVE');
    await gql(`mutation($s: ID!) { joinSpace(spaceId: $s) { id } }`, { s: space.id }, b.token);
    // Opening the space: one statement with its seats as JSON (api/src/services/spaces/reads.ts room), on PGlite too.
    const room = `stage { role user { handle } joinedAt } audience: participants(first: 5, group: AUDIENCE) { edges { node { user { handle } joinedAt } } }`;
    const view = await gql(`query($s: ID!) { space(id: $s) { participantCount listenerCount host { followerCount } ${room} } }`, { s: space.id });
    const { stage, audience, ...counts } = view.data.space;
    expect(counts).toEqual({ participantCount: 2, listenerCount: 1, host: { followerCount: 1 } });
    expect(stage.map((s: { role: string; user: { handle: string } }) => [s.role, s.user.handle])).toEqual([['HOST', 'pg_host']]);
    expect(audience.edges.map((e: { node: { user: { handle: string } } }) => e.node.user.handle)).toEqual(['pg_fan']);
    // The same seats as read one by one (node: the loaders' statements): joinedAt to the millisecond.
    const seats = await gql(`query($s: ID!) { node(id: $s) { ... on Space { ${room} } } }`, { s: space.id });
    expect(seats.data.node).toEqual({ stage, audience });
    expect(Date.parse(stage[0].joinedAt)).toBeGreaterThan(Date.now() - 60_000);

    // Reopen the folder: migrations find nothing to do, the data is there.
    await app.stop();
    await db.close();
    db = await createDb({ dataDir: dir });
    app = await buildApp({ database: db, serveWeb: false, port: 0, host: '127.0.0.1' });
    const again = await gql(`query { user(handle: "pg_fan") { followingCount } }`);
    expect(again.data.user.followingCount).toBe(1);
  });
});
