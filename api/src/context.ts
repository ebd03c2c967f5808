import DataLoader from 'dataloader';
import { inArray } from 'drizzle-orm';
import { users, type Database } from '@spaces/db';
import type { Accounts, UserRow } from './services/accounts.ts';
import type { Follows } from './services/follows.ts';
import type { ParticipantRow, SpaceRow, Spaces } from './services/spaces.ts';
import type { Mixer } from './services/mixer.ts';
import type { EventBus } from './pubsub.ts';
import type { RateLimiter } from './lib/rate-limit.ts';

/** Long-lived parts shared by every request of one app instance. */
export interface Services {
  db: Database;
  accounts: Accounts;
  follows: Follows;
  spaces: Spaces;
  mixer: Mixer;
  events: EventBus;
  limits: { signInByClient: RateLimiter; signInByHandle: RateLimiter; signUp: RateLimiter };
}

export interface Viewer {
  user: UserRow;
  sessionId: string;
}

export interface Context {
  services: Services;
  viewer: UserRow | null;
  sessionId: string | null;
  /** Best-effort client address, for rate limits. */
  clientKey: string;
  loaders: ReturnType<typeof createLoaders>;
  /** Queue a Set-Cookie for the HTTP response (no-op over WebSocket). */
  setSessionCookie(token: string | null): void;
}

function byId<T extends { id: string }>(rows: T[], ids: readonly string[]) {
  const map = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => map.get(id) ?? null);
}

/** The loaders whose answers do not depend on the viewer: they may be shared by many viewers. */
export function createSharedLoaders(services: Services) {
  const { db, spaces } = services;
  return {
    user: new DataLoader<string, UserRow | null>(async (ids) =>
      byId(await db.select().from(users).where(inArray(users.id, [...ids])), ids),
    ),
    space: new DataLoader<string, SpaceRow | null>((ids) => spaces.byIds(ids)),
    participant: new DataLoader<string, ParticipantRow | null>((ids) => spaces.participantsByIds(ids)),
    counts: new DataLoader((ids: readonly string[]) => spaces.counts(ids)),
    stage: new DataLoader((ids: readonly string[]) => spaces.stages(ids)),
  };
}
export type SharedLoaders = ReturnType<typeof createSharedLoaders>;

/**
 * Per-request batching: one query per kind of look-up, whatever the query's shape. `shared`
 * lets the viewer-independent loaders be shared (one delivered event, many subscribers).
 */
export function createLoaders(
  services: Services,
  viewerId: string | null,
  shared: SharedLoaders = createSharedLoaders(services),
) {
  const { follows, spaces } = services;
  return {
    ...shared,
    /** The viewer's present participation, by space id. */
    viewerParticipant: new DataLoader<string, ParticipantRow | null>(async (spaceIds) =>
      viewerId ? spaces.presentParticipants(spaceIds.map((spaceId) => ({ spaceId, userId: viewerId }))) : spaceIds.map(() => null),
    ),
    viewerFollows: new DataLoader<string, boolean>(async (ids) => {
      if (!viewerId) return ids.map(() => false);
      const set = await follows.followedAmong(viewerId, ids);
      return ids.map((id) => set.has(id));
    }),
    followsViewer: new DataLoader<string, boolean>(async (ids) => {
      if (!viewerId) return ids.map(() => false);
      const set = await follows.followersAmong(viewerId, ids);
      return ids.map((id) => set.has(id));
    }),
  };
}

export function buildContext(
  services: Services,
  auth: Viewer | null,
  clientKey: string,
  setSessionCookie: (token: string | null) => void = () => {},
): Context {
  const viewer = auth?.user ?? null;
  return {
    services,
    viewer,
    sessionId: auth?.sessionId ?? null,
    clientKey,
    loaders: createLoaders(services, viewer?.id ?? null),
    setSessionCookie,
  };
}
