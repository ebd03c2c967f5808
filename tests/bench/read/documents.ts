/**
 * What the read benchmark (bench/read.ts) asks each system for, and how it checks that the three
 * answers hold the same data.
 *
 * Ours: the web's SpaceRoomQuery (web/src/lib/graphql/documents.ts) as far as the read
 * goes: the viewer, the space, its host, the stage with users, the viewer's participant, the
 * counts and the first page of 50 listeners. Left out: viewerCanSpeak, viewerRemoved,
 * invitedSpeakers and the HANDS page (policy checks and moderator lists, not part of that read).
 * The raw server answers the same JSON, byte for byte.
 *
 * PostGraphile: the same rows in its own shape (one field per stage role, since its conditions
 * are equalities; `totalCount` for the counts; avatar keys rather than URLs).
 */

const USER = 'id handle displayName avatarUrl(size: SMALL)';
const SEAT = `id role muted handRaised handSeen speaking audioConnected present joinedAt user { ${USER} }`;
// The web's audience nodes ask for no handSeen.
const LISTENER = `id role muted handRaised speaking audioConnected present joinedAt user { ${USER} }`;

export const OURS_QUERY = `query SpaceRoom($id: ID!) {
  viewer { id handle displayName isGuest }
  space(id: $id) {
    id title state speakerPolicy scheduledFor startedAt endedAt participantCount listenerCount
    host { ${USER} }
    stage { ${SEAT} }
    viewerParticipant { ${SEAT} }
    audience: participants(first: 50, group: AUDIENCE) { edges { node { ${LISTENER} } } pageInfo { hasNextPage endCursor } }
  }
}`;

const PG_USER = 'id handle displayName avatarKey';
const PG_SEAT = `id role muted handRaised handSeen speaking audioConnected leftAt joinedAt user: userByUserId { ${PG_USER} }`;
const PG_LISTENER = `id role muted handRaised speaking audioConnected leftAt joinedAt user: userByUserId { ${PG_USER} }`;
const pgRole = (alias: string, role: string) =>
  `${alias}: participantsBySpaceId(condition: { role: ${role}, leftAt: null }, orderBy: [JOINED_AT_ASC, ID_ASC]) { nodes { ${PG_SEAT} } }`;

export const POSTGRAPHILE_QUERY = `query SpaceRoom($spaceId: UUID!, $viewerId: UUID!) {
  viewer: userById(id: $viewerId) { id handle displayName isGuest }
  space: spaceById(id: $spaceId) {
    id title state speakerPolicy scheduledFor startedAt endedAt
    everyone: participantsBySpaceId(condition: { leftAt: null }) { totalCount }
    host: userByHostId { ${PG_USER} }
    ${pgRole('hosts', 'HOST')}
    ${pgRole('coHosts', 'CO_HOST')}
    ${pgRole('speakers', 'SPEAKER')}
    viewerParticipant: participantsBySpaceId(condition: { userId: $viewerId, leftAt: null }) { nodes { ${PG_SEAT} } }
    audience: participantsBySpaceId(condition: { role: LISTENER, leftAt: null }, orderBy: [JOINED_AT_ASC, ID_ASC], first: 50) {
      totalCount nodes { ${PG_LISTENER} } pageInfo { hasNextPage endCursor }
    }
  }
}`;

/** The data of one answer, in a form all three share: plain uuids, avatar keys, ISO times. */
export interface Facts {
  viewer: { id: string; handle: string; displayName: string; isGuest: boolean };
  space: { id: string; title: string; state: string; speakerPolicy: string; startedAt: string | null; endedAt: string | null };
  participantCount: number;
  listenerCount: number;
  host: UserFacts;
  stage: SeatFacts[];
  viewerParticipant: SeatFacts | null;
  audience: SeatFacts[];
  audienceHasNextPage: boolean;
}
interface UserFacts {
  id: string;
  handle: string;
  displayName: string;
  avatarKey: string | null;
}
interface SeatFacts {
  id: string;
  role: string;
  muted: boolean;
  handRaised: boolean;
  speaking: boolean;
  audioConnected: boolean;
  present: boolean;
  joinedAt: string;
  user: UserFacts;
}

/** base64url("Type:uuid") → uuid. */
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1]!;
/** `/media/avatars/x-96.webp` → `avatars/x` (the column the URL is made from). */
const keyOfUrl = (url: string | null) => (url ? url.replace(/^.*\/media\//, '').replace(/-96\.webp$/, '') : null);

const oursUser = (u: any): UserFacts => ({ id: uuidOf(u.id), handle: u.handle, displayName: u.displayName, avatarKey: keyOfUrl(u.avatarUrl) });
const oursSeat = (p: any): SeatFacts => ({
  id: uuidOf(p.id),
  role: p.role,
  muted: p.muted,
  handRaised: p.handRaised,
  speaking: p.speaking,
  audioConnected: p.audioConnected,
  present: p.present,
  joinedAt: p.joinedAt,
  user: oursUser(p.user),
});

/** Facts of an answer to OURS_QUERY (ours and the raw server's). */
export function factsOfOurs(body: any): Facts {
  const { viewer, space } = body.data;
  return {
    viewer: { id: uuidOf(viewer.id), handle: viewer.handle, displayName: viewer.displayName, isGuest: viewer.isGuest },
    space: { id: uuidOf(space.id), title: space.title, state: space.state, speakerPolicy: space.speakerPolicy, startedAt: space.startedAt, endedAt: space.endedAt },
    participantCount: space.participantCount,
    listenerCount: space.listenerCount,
    host: oursUser(space.host),
    stage: space.stage.map(oursSeat),
    viewerParticipant: space.viewerParticipant ? oursSeat(space.viewerParticipant) : null,
    audience: space.audience.edges.map((e: any) => oursSeat(e.node)),
    audienceHasNextPage: space.audience.pageInfo.hasNextPage,
  };
}

const pgUser = (u: any): UserFacts => ({ id: u.id, handle: u.handle, displayName: u.displayName, avatarKey: u.avatarKey });
const pgSeat = (p: any): SeatFacts => ({
  id: p.id,
  role: p.role,
  muted: p.muted,
  handRaised: p.handRaised,
  speaking: p.speaking,
  audioConnected: p.audioConnected,
  present: p.leftAt === null,
  // PostGraphile prints timestamptz as PostgreSQL does (+00:00, trailing zeros dropped).
  joinedAt: new Date(p.joinedAt).toISOString(),
  user: pgUser(p.user),
});
const pgTime = (t: string | null) => (t === null ? null : new Date(t).toISOString());

/** Facts of an answer to POSTGRAPHILE_QUERY. */
export function factsOfPostGraphile(body: any): Facts {
  const { viewer, space } = body.data;
  return {
    viewer: { id: viewer.id, handle: viewer.handle, displayName: viewer.displayName, isGuest: viewer.isGuest },
    space: { id: space.id, title: space.title, state: space.state, speakerPolicy: space.speakerPolicy, startedAt: pgTime(space.startedAt), endedAt: pgTime(space.endedAt) },
    participantCount: space.everyone.totalCount,
    listenerCount: space.audience.totalCount,
    host: pgUser(space.host),
    stage: [...space.hosts.nodes, ...space.coHosts.nodes, ...space.speakers.nodes].map(pgSeat),
    viewerParticipant: space.viewerParticipant.nodes[0] ? pgSeat(space.viewerParticipant.nodes[0]) : null,
    audience: space.audience.nodes.map(pgSeat),
    audienceHasNextPage: space.audience.pageInfo.hasNextPage,
  };
}

/** The first place two answers' facts differ (a path and both values), or null when they agree. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return Object.is(a, b) ? null : `${path || '(root)'}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  if (Array.isArray(a) && a.length !== (b as unknown[]).length) return `${path}.length: ${a.length} ≠ ${(b as unknown[]).length}`;
  for (const key of keys) {
    const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`);
    if (found) return found;
  }
  return null;
}
