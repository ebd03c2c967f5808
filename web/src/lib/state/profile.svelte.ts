import { toAppError, type AppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  FollowersQuery,
  FollowingQuery,
  FollowMutation,
  ProfileQuery,
  UnfollowMutation,
  type ProfileUser,
  type UserBasic,
} from '$lib/graphql/documents';

export type LoadStatus = 'loading' | 'ready' | 'not-found' | 'error';

/** A profile page: the user, their counts, and following them (optimistically). */
export class Profile {
  user = $state<ProfileUser | null>(null);
  viewerId = $state<string | null>(null);
  status = $state<LoadStatus>('loading');
  error = $state<AppError | null>(null);
  pending = $state(false);

  readonly isSelf = $derived(this.user !== null && this.user.id === this.viewerId);

  #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  async load(handle: string): Promise<void> {
    this.status = 'loading';
    try {
      const data = await this.#api.query(ProfileQuery, { handle });
      this.viewerId = data.viewer?.id ?? null;
      this.user = data.user;
      this.status = data.user ? 'ready' : 'not-found';
      this.error = null;
    } catch (error) {
      this.error = toAppError(error);
      this.status = this.error.code === 'NOT_FOUND' ? 'not-found' : 'error';
    }
  }

  /** Follows or unfollows; the counts change at once and go back if the server says no. */
  async toggleFollow(): Promise<void> {
    const user = this.user;
    if (!user || this.pending || this.isSelf) return;
    const follow = !user.viewerFollows;
    const before = { viewerFollows: user.viewerFollows, followerCount: user.followerCount };
    this.user = { ...user, viewerFollows: follow, followerCount: user.followerCount + (follow ? 1 : -1) };
    this.pending = true;
    try {
      const data = follow
        ? (await this.#api.mutate(FollowMutation, { userId: user.id })).follow
        : (await this.#api.mutate(UnfollowMutation, { userId: user.id })).unfollow;
      if (this.user?.id === data.id) this.user = { ...this.user, ...data };
    } catch (error) {
      if (this.user?.id === user.id) this.user = { ...this.user, ...before };
      throw toAppError(error);
    } finally {
      this.pending = false;
    }
  }
}

export type UserListKind = 'followers' | 'following';
export type ListedUser = UserBasic & { viewerFollows: boolean };

/** Followers or following of one user, page by page. */
export class UserList {
  users = $state<ListedUser[]>([]);
  hasMore = $state(false);
  status = $state<LoadStatus>('loading');
  loadingMore = $state(false);
  error = $state<AppError | null>(null);

  #api: Api;
  #handle = '';
  #kind: UserListKind = 'followers';
  #cursor: string | null = null;

  constructor(api: Api) {
    this.#api = api;
  }

  async load(handle: string, kind: UserListKind): Promise<void> {
    this.#handle = handle;
    this.#kind = kind;
    this.#cursor = null;
    this.users = [];
    this.status = 'loading';
    await this.#page();
  }

  async loadMore(): Promise<void> {
    if (!this.hasMore || this.loadingMore) return;
    this.loadingMore = true;
    try {
      await this.#page();
    } finally {
      this.loadingMore = false;
    }
  }

  async #page(): Promise<void> {
    const variables = { handle: this.#handle, first: 30, after: this.#cursor };
    try {
      const user =
        this.#kind === 'followers'
          ? (await this.#api.query(FollowersQuery, variables)).user
          : (await this.#api.query(FollowingQuery, variables)).user;
      if (!user) {
        this.status = 'not-found';
        return;
      }
      const connection = 'followers' in user ? user.followers : user.following;
      const seen = new Set(this.users.map((u) => u.id));
      this.users = [...this.users, ...connection.edges.map((e) => e.node).filter((u) => !seen.has(u.id))];
      this.#cursor = connection.pageInfo.endCursor ?? null;
      this.hasMore = connection.pageInfo.hasNextPage;
      this.status = 'ready';
      this.error = null;
    } catch (error) {
      this.error = toAppError(error);
      if (this.status === 'loading') this.status = 'error';
    }
  }
}
