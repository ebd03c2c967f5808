import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Config } from '../config.ts';
import { REACTION_RATE } from '../domain/rules.ts';
import type { Limiter, LimiterStore } from '../lib/rate-limit.ts';

/** The per-user limits of mutations that make events or mixer work. */
export type UserAction =
  | 'connectAudio'
  | 'requestToSpeak'
  | 'joinLeave'
  | 'follow'
  | 'setReminder'
  | 'postFleet'
  | 'replyToFleet'
  | 'fleetPhoto';

/**
 * Every abuse limit of the API, on one store shared by all instances (see lib/rate-limit.ts).
 * Clients are keyed by `Context.clientKey` (lib/client-address.ts); users by id.
 */
export class Limits {
  private readonly signUpByClient: Limiter;
  private readonly guestSessionByClient: Limiter;
  private readonly signInByClient: Limiter;
  private readonly signInByHandleAndClient: Limiter;
  private readonly signInByHandle: Limiter;
  private readonly knownClients: Limiter;
  private readonly byUser: Record<UserAction, Limiter>;
  /** Reactions per user per space (domain/rules.ts REACTION_RATE); used by Spaces.react. */
  readonly reaction: Limiter;
  /** Requests per personal access token or OAuth access token, and per OAuth app (all its users). */
  private readonly byToken: Limiter;
  private readonly byApp: Limiter;
  private readonly oauthEndpointByClient: Limiter;

  constructor(
    readonly store: LimiterStore,
    config: Config['rateLimits'],
  ) {
    const perMinute = (points: number) => ({ points, durationSeconds: 60 });
    this.signUpByClient = store.limiter('signup:client', { points: config.signUpPerHourPerClient, durationSeconds: 3600 });
    this.guestSessionByClient = store.limiter('guest:client', {
      points: config.guestSessionsPerHourPerClient,
      durationSeconds: 3600,
    });
    this.signInByClient = store.limiter('signin:client', perMinute(config.signInPerMinutePerClient));
    this.signInByHandleAndClient = store.limiter('signin:handle+client', perMinute(config.signInPerMinutePerHandleAndClient));
    this.signInByHandle = store.limiter('signin:handle', perMinute(config.signInPerMinutePerHandle));
    this.knownClients = store.limiter('signin:known', { points: 1, durationSeconds: config.signInKnownClientDays * 86_400 });
    this.byUser = {
      connectAudio: store.limiter('user:connectAudio', perMinute(config.connectAudioPerMinutePerUser)),
      requestToSpeak: store.limiter('user:requestToSpeak', perMinute(config.requestToSpeakPerMinutePerUser)),
      joinLeave: store.limiter('user:joinLeave', perMinute(config.joinLeavePerMinutePerUser)),
      follow: store.limiter('user:follow', perMinute(config.followPerMinutePerUser)),
      // Setting and clearing reminders, as cheap to flood as following: the same allowance.
      setReminder: store.limiter('user:setReminder', perMinute(config.followPerMinutePerUser)),
      postFleet: store.limiter('user:postFleet', { points: config.fleetPostsPerHourPerUser, durationSeconds: 3600 }),
      replyToFleet: store.limiter('user:replyToFleet', perMinute(config.fleetRepliesPerMinutePerUser)),
      fleetPhoto: store.limiter('user:fleetPhoto', { points: config.fleetPhotosPerHourPerUser, durationSeconds: 3600 }),
    };
    this.byToken = store.limiter('token:requests', perMinute(config.tokenRequestsPerMinute));
    this.byApp = store.limiter('app:requests', perMinute(config.appRequestsPerMinute));
    this.oauthEndpointByClient = store.limiter('oauth:client', perMinute(config.oauthEndpointPerMinutePerClient));
    this.reaction = store.limiter('user:reaction', {
      points: REACTION_RATE.limit,
      durationSeconds: REACTION_RATE.windowMs / 1000,
    });
  }

  /** Counts one `action` by userId; RATE_LIMITED (retryAfterMs) past its limit. */
  user(action: UserAction, userId: string): Promise<void> {
    return this.byUser[action].hit(userId);
  }

  /** Counts a sign-up attempt from client; on success call `signedUp`. */
  async signUp(client: string): Promise<void> {
    await this.signUpByClient.hit(client);
  }

  /** Counts a startGuestSession from client (each makes an account): RATE_LIMITED past the limit. */
  async guestSession(client: string): Promise<void> {
    await this.guestSessionByClient.hit(client);
  }

  /**
   * Sign-in throttling that cannot be turned into a lock-out (OWASP authentication cheat sheet):
   * - every attempt counts per (handle, client): a guesser is throttled wherever it is;
   * - clients that have not signed in to this handle within `signInKnownClientDays` also count
   *   per handle (across all clients, a distributed guesser) and per client (any handle,
   *   credential stuffing);
   * - a client that has is exempt from those two, so floods of wrong passwords from elsewhere
   *   never stop the owner's correct password from their usual client.
   * Runs `attempt` only if the limits allow; remembers the client on success.
   */
  async signIn<T>(handle: string, client: string, attempt: () => Promise<T>): Promise<T> {
    const h = handleKey(handle);
    const pair = `${h}@${client}`;
    await this.signInByHandleAndClient.hit(pair);
    if (!(await this.knownClients.seen(pair))) {
      await this.signInByClient.hit(client);
      await this.signInByHandle.hit(h);
    }
    const result = await attempt();
    await this.knownClients.remember(pair);
    return result;
  }

  /** After a successful sign-up: the client that made the account is one it knows. */
  async signedUp(handle: string, client: string): Promise<void> {
    await this.knownClients.remember(`${handleKey(handle)}@${client}`);
  }

  /**
   * Counts one request made with a token (and its app, for OAuth tokens): RATE_LIMITED past
   * either limit, with `limit`, `remaining: 0` and `limitedBy` (TOKEN or APP) in extensions.
   */
  async tokenRequest(tokenId: string, appId: string | null): Promise<void> {
    await hitNaming(this.byToken, tokenId, 'TOKEN');
    if (appId) await hitNaming(this.byApp, appId, 'APP');
  }

  /** Counts a POST to /oauth/token or /oauth/revoke from client: null, or past the limit the wait (ms) for HTTP 429. */
  oauthEndpoint(client: string): Promise<number | null> {
    return this.oauthEndpointByClient.tryHit(client);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/**
 * Handles as typed (any case, spaces around): bounded in length, since any string can be sent
 * and the store's keys are at most 255 characters.
 */
function handleKey(handle: string): string {
  const h = handle.trim().toLowerCase();
  return h.length <= 32 ? h : `#${createHash('sha256').update(h).digest('base64url').slice(0, 32)}`;
}

async function hitNaming(limiter: Limiter, key: string, limitedBy: 'TOKEN' | 'APP'): Promise<void> {
  try {
    await limiter.hit(key);
  } catch (error) {
    if (error instanceof GraphQLError && error.extensions.code === 'RATE_LIMITED')
      throw new GraphQLError(error.message, {
        extensions: { ...error.extensions, limit: limiter.rule.points, remaining: 0, limitedBy },
      });
    throw error;
  }
}
