import { clearAllDataLoaders } from '@pothos/plugin-dataloader';
import DataLoader from 'dataloader';
import type { Database } from '@spaces/db';
import type { Accounts, UserRow } from './services/accounts.ts';
import type { Follows } from './services/follows.ts';
import type { PageRequest, ParticipantGroup, ParticipantWithUser, SpaceRow, SpaceWithHost, Spaces } from './services/spaces/index.ts';
import type { Role } from './domain/rules.ts';
import { usersByIds } from './services/users.ts';
import type { Mixer } from './services/mixer/mixer.ts';
import type { EventBus } from './pubsub.ts';
import type { SpacesBars } from './services/bars.ts';
import type { Limits } from './services/limits.ts';
import type { IceServers } from './services/ice.ts';
import type { Profiles } from './services/profiles.ts';
import type { Search } from './services/search.ts';
import type { Notifications } from './services/notifications.ts';
import type { Fleets } from './services/fleets.ts';
import type { ApiScope } from './domain/rules.ts';
import type { Apps } from './services/apps.ts';

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
  /** Personal access tokens, OAuth apps, their authorizations and the OAuth server. */
  apps: Apps;
}

/** What authenticated a request (Accounts.authenticate): the user and the credential's row. */
export interface Viewer {
  user: UserRow;
  /** The `sessions` row: a sign-in, a personal access token or an OAuth access token. */
  sessionId: string;
  kind: 'session' | 'personal' | 'oauth';
  /** The token's scopes; null for the PWA's own session (every scope). */
  scopes: readonly ApiScope[] | null;
  /** OAuth access tokens: the app they were issued to. */
  appId: string | null;
}

/**
 * Who is calling and with what: signed out; the PWA's own session (every scope; guests are
 * sessions too); or a token limited to its scopes (domain/rules.ts tokenMayUse).
 */
export type Auth =
  | { kind: 'anonymous' }
  | { kind: 'session'; sessionId: string; guest: boolean }
  | { kind: 'personal' | 'oauth'; tokenId: string; appId: string | null; scopes: ReadonlySet<ApiScope> };

export function authOf(viewer: Viewer | null): Auth {
  if (!viewer) return { kind: 'anonymous' };
  if (viewer.kind === 'session') return { kind: 'session', sessionId: viewer.sessionId, guest: viewer.user.isGuest };
  return { kind: viewer.kind, tokenId: viewer.sessionId, appId: viewer.appId, scopes: new Set(viewer.scopes ?? []) };
}

export interface Context {
  services: Services;
  viewer: UserRow | null;
  /** The credential's row (signOut revokes it), whatever its kind; null signed out. */
  sessionId: string | null;
  auth: Auth;
  /** The client's address as limits key it (lib/client-address.ts): the peer, or per TRUST_PROXY. */
  clientKey: string;
  loaders: Loaders;
  /** Queue a Set-Cookie for the HTTP response (no-op over WebSocket); its Max-Age is the session TTL unless given. */
  setSessionCookie(token: string | null, maxAgeSeconds?: number): void;
}

/**
 * The loaders whose answers do not depend on the viewer: they may be shared by many viewers.
 * Each is built on first use: a subscription delivery touches few of them, for thousands of
 * subscribers at once.
 */
export class SharedLoaders {
  #user?: DataLoader<string, UserRow | null>;
  #space?: DataLoader<string, SpaceWithHost | null>;
  #participant?: DataLoader<string, ParticipantWithUser | null>;
  #counts?: DataLoader<string, { participants: number; listeners: number }>;
  #stage?: DataLoader<string, ParticipantWithUser[]>;
  #reminderCount?: DataLoader<string, number>;
  #liveSpace?: DataLoader<string, SpaceRow | null>;
  #upcomingHosted?: DataLoader<string, SpaceRow[]>;

  constructor(private readonly services: Services) {}

  /** Users (never their password hash). Spaces, participants and stages come with theirs already. */
  get user() {
    return (this.#user ??= new DataLoader((ids) => usersByIds(this.services.db, ids)));
  }
  /** Spaces with their hosts. */
  get space() {
    return (this.#space ??= new DataLoader((ids) => this.services.spaces.withHostsByIds(ids)));
  }
  /** Participants with their users. */
  get participant() {
    return (this.#participant ??= new DataLoader((ids) => this.services.spaces.seatsByIds(ids)));
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

/** Which page of whose participants, as participantsPage is asked for it. */
const pageKey = (spaceId: string, { first, after, role, group }: PageRequest) =>
  JSON.stringify([spaceId, first, after ?? null, role ?? null, group ?? null]);

export const createSharedLoaders = (services: Services) => new SharedLoaders(services);

/**
 * Per-request batching: one query per kind of look-up, whatever the query's shape. These stay
 * hand-written rather than the dataloader plugin's (which caches per context object): the
 * viewer-independent ones are shared by every subscriber of one event (SharedLoaders by payload,
 * schema/space-event.ts), and Query.space primes several of them from one statement before their
 * fields run (Loaders.room); mutations clear or prime them. `shared`
 * lets the viewer-independent loaders be shared (one delivered event, many subscribers).
 */
export class Loaders {
  #viewerParticipant?: DataLoader<string, ParticipantWithUser | null>;
  #viewerFollows?: DataLoader<string, boolean>;
  #followsViewer?: DataLoader<string, boolean>;
  #viewerHasReminder?: DataLoader<string, boolean>;
  /** Participant pages started early (Query.space), by their arguments; each is taken once. */
  readonly #prefetchedPages = new Map<string, ReturnType<Spaces['listParticipants']>>();

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
  /**
   * A page of a space's participants (Space.participants): the one read early for the same
   * arguments (Loaders.room, prefetchParticipants), else read now. Taken once, so a later read in
   * the same request (after a mutation, say) reads afresh.
   */
  participantsPage(spaceId: string, first: number, after: string | null | undefined, role: Role | null | undefined, group: ParticipantGroup | null | undefined) {
    const key = pageKey(spaceId, { first, after, role, group });
    const prefetched = this.#prefetchedPages.get(key);
    if (prefetched) {
      this.#prefetchedPages.delete(key);
      return prefetched;
    }
    return this.services.spaces.listParticipants(spaceId, first, after, role, group);
  }
  /** Starts a page participantsPage will be asked for soon, alongside the other reads of the same tick. */
  prefetchParticipants(spaceId: string, request: PageRequest) {
    const key = pageKey(spaceId, request);
    if (this.#prefetchedPages.has(key)) return;
    const page = this.services.spaces.listParticipants(spaceId, request.first, request.after, request.role, request.group);
    // Its reader gets the error, if any; until then it must not count as unhandled.
    page.catch(() => {});
    this.#prefetchedPages.set(key, page);
  }
  /**
   * Opening a space (Query.space asking for its stage, counts, the viewer's seat or a page of
   * participants): all of it in one statement (Spaces.room), handed to the loaders those fields
   * read and to participantsPage.
   */
  async room(spaceId: string, page: PageRequest | null): Promise<SpaceWithHost | null> {
    const room = await this.services.spaces.room(spaceId, this.viewerId, page);
    if (!room) {
      this.space.prime(spaceId, null);
      return null;
    }
    this.space.prime(spaceId, room.space);
    this.counts.prime(spaceId, room.counts);
    this.stage.prime(spaceId, room.stage);
    this.viewerParticipant.prime(spaceId, room.viewerSeat);
    if (page && room.page) this.#prefetchedPages.set(pageKey(spaceId, page), Promise.resolve(room.page));
    return room.space;
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
      viewerId ? services.spaces.presentSeatsOf(viewerId, spaceIds) : spaceIds.map(() => null),
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

/**
 * A subscription's context lives as long as the subscription: each delivery gets fresh loaders,
 * these and the dataloader plugin's (cached per context), so it reads the data as it is now.
 */
export function renewLoaders(ctx: Context, shared?: SharedLoaders) {
  ctx.loaders = createLoaders(ctx.services, ctx.viewer?.id ?? null, shared);
  clearAllDataLoaders(ctx);
}

export function buildContext(
  services: Services,
  auth: Viewer | null,
  clientKey: string,
  setSessionCookie: Context['setSessionCookie'] = () => {},
): Context {
  const viewer = auth?.user ?? null;
  return {
    services,
    viewer,
    sessionId: auth?.sessionId ?? null,
    auth: authOf(auth),
    clientKey,
    loaders: createLoaders(services, viewer?.id ?? null),
    setSessionCookie,
  };
}
