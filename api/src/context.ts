import DataLoader from 'dataloader';
import { inArray } from 'drizzle-orm';
import { users, type Database } from '@spaces/db';
import type { Accounts, UserRow } from './services/accounts.ts';
import type { Follows } from './services/follows.ts';
import type { ParticipantRow, SpaceRow, Spaces } from './services/spaces/index.ts';
import type { Mixer } from './services/mixer/mixer.ts';
import type { EventBus } from './pubsub.ts';
import type { SpacesBars } from './services/bars.ts';
import type { Limits } from './services/limits.ts';
import type { IceServers } from './services/ice.ts';
import type { Profiles } from './services/profiles.ts';
import type { Search } from './services/search.ts';
import type { Notifications } from './services/notifications.ts';
import type { Fleets } from './services/fleets.ts';

/** Long-lived parts shared by every request of one app instance. */
export interface Services {
  db: Database;
  accounts: Accounts;
  follows: Follows;
  spaces: Spaces;
  mixer: Mixer;
  events: EventBus;
  /** The spaces bars open on this instance, kept current from activity events. */
  bars: SpacesBars;
  /** STUN/TURN for clients, TURN credentials per user (iceServers query). */
  ice: IceServers;
  limits: Limits;
  /** Display name, bio and avatar (with its media storage). */
  profiles: Profiles;
  /** People and spaces search, suggested people. */
  search: Search;
  /** In-app notifications: their list, unread count and delivery (the table's only writer). */
  notifications: Notifications;
  /** 24-hour fleets, their photos, views and replies; the fleets bar. */
  fleets: Fleets;
}

export interface Viewer {
  user: UserRow;
  sessionId: string;
}

export interface Context {
  services: Services;
  viewer: UserRow | null;
  sessionId: string | null;
  /** The client's address as limits key it (lib/client-address.ts): the peer, or per TRUST_PROXY. */
  clientKey: string;
  loaders: Loaders;
  /** Queue a Set-Cookie for the HTTP response (no-op over WebSocket). */
  setSessionCookie(token: string | null): void;
}

function byId<T extends { id: string }>(rows: T[], ids: readonly string[]) {
  const map = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => map.get(id) ?? null);
}

/**
 * The loaders whose answers do not depend on the viewer: they may be shared by many viewers.
 * Each is built on first use: a subscription delivery touches few of them, for thousands of
 * subscribers at once.
 */
export class SharedLoaders {
  #user?: DataLoader<string, UserRow | null>;
  #space?: DataLoader<string, SpaceRow | null>;
  #participant?: DataLoader<string, ParticipantRow | null>;
  #counts?: DataLoader<string, { participants: number; listeners: number }>;
  #stage?: DataLoader<string, ParticipantRow[]>;
  #reminderCount?: DataLoader<string, number>;
  #liveSpace?: DataLoader<string, SpaceRow | null>;
  #upcomingHosted?: DataLoader<string, SpaceRow[]>;

  constructor(private readonly services: Services) {}

  get user() {
    const { db } = this.services;
    return (this.#user ??= new DataLoader(async (ids) =>
      byId(await db.select().from(users).where(inArray(users.id, [...ids])), ids),
    ));
  }
  get space() {
    return (this.#space ??= new DataLoader((ids) => this.services.spaces.byIds(ids)));
  }
  get participant() {
    return (this.#participant ??= new DataLoader((ids) => this.services.spaces.participantsByIds(ids)));
  }
  get counts() {
    return (this.#counts ??= new DataLoader((ids) => this.services.spaces.counts(ids)));
  }
  get stage() {
    return (this.#stage ??= new DataLoader((ids) => this.services.spaces.stages(ids)));
  }
  /** Reminders set per space id. */
  get reminderCount() {
    return (this.#reminderCount ??= new DataLoader((ids) => this.services.spaces.reminderCounts(ids)));
  }
  /** By user id: the scheduled spaces they host, soonest first (at most 20). */
  get upcomingHosted() {
    return (this.#upcomingHosted ??= new DataLoader((ids) => this.services.spaces.hostedUpcoming(ids)));
  }
  /** By user id: the LIVE space they host or are on stage in. */
  get liveSpace() {
    return (this.#liveSpace ??= new DataLoader((ids) => this.services.spaces.liveSpacesOf(ids)));
  }
}

export const createSharedLoaders = (services: Services) => new SharedLoaders(services);

/**
 * Per-request batching: one query per kind of look-up, whatever the query's shape. `shared`
 * lets the viewer-independent loaders be shared (one delivered event, many subscribers).
 */
export class Loaders {
  #viewerParticipant?: DataLoader<string, ParticipantRow | null>;
  #viewerFollows?: DataLoader<string, boolean>;
  #followsViewer?: DataLoader<string, boolean>;
  #viewerHasReminder?: DataLoader<string, boolean>;

  constructor(
    private readonly services: Services,
    private readonly viewerId: string | null,
    private readonly shared: SharedLoaders = new SharedLoaders(services),
  ) {}

  get user() {
    return this.shared.user;
  }
  get space() {
    return this.shared.space;
  }
  get participant() {
    return this.shared.participant;
  }
  get counts() {
    return this.shared.counts;
  }
  get stage() {
    return this.shared.stage;
  }
  get reminderCount() {
    return this.shared.reminderCount;
  }
  get liveSpace() {
    return this.shared.liveSpace;
  }
  get upcomingHosted() {
    return this.shared.upcomingHosted;
  }
  /** Whether the viewer set a reminder, by space id (false signed out). */
  get viewerHasReminder() {
    const { viewerId, services } = this;
    return (this.#viewerHasReminder ??= new DataLoader(async (spaceIds) => {
      if (!viewerId) return spaceIds.map(() => false);
      const set = await services.spaces.remindedAmong(viewerId, spaceIds);
      return spaceIds.map((id) => set.has(id));
    }));
  }
  /** The viewer's present participation, by space id. */
  get viewerParticipant() {
    const { viewerId, services } = this;
    return (this.#viewerParticipant ??= new DataLoader(async (spaceIds) =>
      viewerId
        ? services.spaces.presentParticipants(spaceIds.map((spaceId) => ({ spaceId, userId: viewerId })))
        : spaceIds.map(() => null),
    ));
  }
  get viewerFollows() {
    const { viewerId, services } = this;
    return (this.#viewerFollows ??= new DataLoader(async (ids) => {
      if (!viewerId) return ids.map(() => false);
      const set = await services.follows.followedAmong(viewerId, ids);
      return ids.map((id) => set.has(id));
    }));
  }
  get followsViewer() {
    const { viewerId, services } = this;
    return (this.#followsViewer ??= new DataLoader(async (ids) => {
      if (!viewerId) return ids.map(() => false);
      const set = await services.follows.followersAmong(viewerId, ids);
      return ids.map((id) => set.has(id));
    }));
  }
}

export const createLoaders = (services: Services, viewerId: string | null, shared?: SharedLoaders) =>
  new Loaders(services, viewerId, shared);

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
