/**
 * The read path of opening a space (issue 13, "Performance"; tests/bench/read.ts measures it):
 * the web's SpaceRoom query answers from a fixed, small number of SQL statements, whatever the
 * number of people in the space (users come with their seats, not in batches of their own), and
 * no statement reads a password hash. The space's nested reads come with the space itself, in
 * one statement (schema/space.ts roomReads, SpaceReads.room) that reads what the loaders read
 * one by one; bad arguments there still answer with coded errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startTestApp, type TestApp } from '../support/app.ts';
import { must, Q, users, type U } from '../support/spaces.ts';

const USER = 'id handle displayName avatarUrl(size: SMALL)';
const SEAT = `id role muted handRaised handSeen speaking audioConnected present joinedAt user { ${USER} }`;
/** As web/src/lib/graphql/documents.ts SpaceRoomQuery asks (and bench/read/documents.ts). */
const SPACE_ROOM = `query SpaceRoom($id: ID!, $first: Int, $after: String) {
  viewer { id handle displayName isGuest }
  space(id: $id) {
    id title state speakerPolicy scheduledFor startedAt endedAt participantCount listenerCount
    host { ${USER} }
    stage { ${SEAT} }
    viewerParticipant { ${SEAT} }
    audience: participants(first: $first, after: $after, group: AUDIENCE) { edges { cursor node { ${SEAT} } } pageInfo { hasNextPage endCursor } }
  }
}`;

let t: TestApp;
/** Statements the API sent to PostgreSQL while `recording` is on. */
let statements: string[] = [];
let recording = false;

beforeAll(async () => {
  t = await startTestApp();
  // postgres.js calls options.debug for every statement it sends (set after creating the client,
  // so it does not switch on its stack-capturing debug mode).
  const client = (t.app.services.db as unknown as { $client: { options: { debug?: unknown } } }).$client;
  client.options.debug = (_connection: number, query: string) => {
    if (recording) statements.push(query);
  };
});
afterAll(() => t?.close());

async function recorded<T>(run: () => Promise<T>): Promise<{ result: T; selects: string[]; all: string[] }> {
  statements = [];
  recording = true;
  try {
    const result = await run();
    return { result, all: statements, selects: statements.filter((s) => /^\s*select\b/i.test(s)) };
  } finally {
    recording = false;
  }
}

describe('opening a space', () => {
  let host: U;
  let viewer: U;
  let listeners: U[];
  let spaceId: string;

  beforeAll(async () => {
    const signedUp = await users(t, 7, 'rp');
    [host, viewer, listeners] = [signedUp[0]!, signedUp[1]!, signedUp.slice(2)];
    spaceId = (await must(t, Q.create, { input: { title: 'Read path', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    for (const listener of [...listeners, viewer]) await must(t, Q.join, { s: spaceId }, listener);
  });

  it('answers the room from 2 statements, whatever its size, none reading a password hash', async () => {
    const first = await recorded(() => t.gql(SPACE_ROOM, { id: spaceId, first: 3 }, { token: viewer.token }));
    const { space, viewer: me } = first.result.data!;
    expect(first.result.errors).toBeUndefined();
    expect(me.id).toBe(viewer.id);
    expect(space.host.id).toBe(host.id);
    expect(space.stage.map((s: { user: { id: string } }) => s.user.id)).toEqual([host.id]);
    expect(space.viewerParticipant.user.id).toBe(viewer.id);
    expect([space.participantCount, space.listenerCount]).toEqual([7, 6]);
    expect(space.audience.edges.map((e: { node: { user: { id: string } } }) => e.node.user.id)).toEqual(
      listeners.slice(0, 3).map((l) => l.id),
    );
    expect(space.audience.pageInfo.hasNextPage).toBe(true);
    // The page's last cursor is the one pageInfo gives.
    expect(space.audience.edges.at(-1).cursor).toBe(space.audience.pageInfo.endCursor);
    // The session, then the room: the space with its host, the stage, the viewer's seat, the
    // counts and the page in one statement (and the statements are seen at all: the hook works).
    expect(first.selects).toHaveLength(2);
    expect(first.all.some((s) => s.includes('"users"'))).toBe(true);
    expect(first.all.filter((s) => s.includes('password_hash'))).toEqual([]);

    // The next page: the rest of the audience, and no more statements for more people.
    const next = await recorded(() =>
      t.gql(SPACE_ROOM, { id: spaceId, first: 50, after: space.audience.pageInfo.endCursor }, { token: viewer.token }),
    );
    expect(next.result.errors).toBeUndefined();
    expect(next.result.data!.space.audience.edges.map((e: { node: { user: { id: string } } }) => e.node.user.id)).toEqual([
      ...listeners.slice(3).map((l) => l.id),
      viewer.id,
    ]);
    expect(next.selects).toHaveLength(2);
  });

  it('reads the same through the room statement as through the loaders (space vs node)', async () => {
    await must(t, Q.raise, { s: spaceId, r: true }, listeners[1]!);
    const selection = `id participantCount listenerCount stage { ${SEAT} } viewerParticipant { ${SEAT} }
      audience: participants(first: 2, group: AUDIENCE) { edges { cursor node { ${SEAT} } } pageInfo { hasNextPage endCursor startCursor } }
      hands: participants(first: 5, group: HANDS) { edges { node { id user { id } } } pageInfo { hasNextPage } }
      everyone: participants(first: 100) { edges { node { id role } } }`;
    const viaRoom = await recorded(() => t.gql(`query($id: ID!) { space(id: $id) { ${selection} } }`, { id: spaceId }, { token: viewer.token }));
    const viaLoaders = await t.gql(`query($id: ID!) { node(id: $id) { ... on Space { ${selection} } } }`, { id: spaceId }, { token: viewer.token });
    expect(viaRoom.result.errors).toBeUndefined();
    expect(viaLoaders.errors).toBeUndefined();
    expect(viaRoom.result.data!.space).toEqual(viaLoaders.data!.node);
    expect(viaRoom.result.data!.space.hands.edges.map((e: { node: { user: { id: string } } }) => e.node.user.id)).toEqual([listeners[1]!.id]);
    expect(viaRoom.result.data!.space.everyone.edges).toHaveLength(7);
    // The session, the room with its first page, and one statement for each further page.
    expect(viaRoom.selects).toHaveLength(4);
    await must(t, Q.raise, { s: spaceId, r: false }, listeners[1]!);
  });

  it('answers bad page arguments with BAD_USER_INPUT, read early or not', async () => {
    expect(codes(await t.gql(SPACE_ROOM, { id: spaceId, first: -1 }, { token: viewer.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(SPACE_ROOM, { id: spaceId, first: 101 }, { token: viewer.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(SPACE_ROOM, { id: spaceId, first: 5, after: 'bm90IGEgY3Vyc29y' }, { token: viewer.token }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    // Signed out: no viewer, no seat; the rest as before.
    const signedOut = await t.gql(SPACE_ROOM, { id: spaceId, first: 2 });
    expect(signedOut.errors).toBeUndefined();
    expect(signedOut.data!.viewer).toBeNull();
    expect(signedOut.data!.space.viewerParticipant).toBeNull();
    expect(signedOut.data!.space.audience.edges).toHaveLength(2);
  });

  it('resolves node(id:) to the type its id names', async () => {
    const seat = (await t.gql(SPACE_ROOM, { id: spaceId, first: 1 }, { token: viewer.token })).data!.space.viewerParticipant.id;
    const node = `query($id: ID!) { node(id: $id) { __typename id } }`;
    for (const [id, type] of [
      [viewer.id, 'User'],
      [spaceId, 'Space'],
      [seat, 'Participant'],
    ] as const) {
      const r = await t.gql(node, { id }, { token: viewer.token });
      expect(r.errors).toBeUndefined();
      expect(r.data!.node).toEqual({ __typename: type, id });
    }
  });
});
