import { AppError, toAppError } from '$lib/errors';
import { postImage } from '$lib/media-upload';
import type { Api } from '$lib/graphql/api';
import {
  FollowersQuery,
  FollowingQuery,
  FollowMutation,
  ProfileQuery,
  ProfileSpacesQuery,
  RecentSpacesQuery,
  RemoveAvatarMutation,
  UnfollowMutation,
  UpdateProfileMutation,
  type ProfileSpacesData,
  type ProfileUser,
  type RecentSpaceData,
  type UserBasic,
} from '$lib/graphql/documents';
import { PagedList } from './paged-list.svelte';
import { toggleFollowing } from './people.svelte';
import { UpcomingList } from './scheduled.svelte';

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

  /** Takes what the viewer just changed about themselves (name, bio, avatar). */
  patch(changes: Partial<Pick<ProfileUser, 'displayName' | 'bio' | 'avatarUrl' | 'avatarLargeUrl'>>): void {
    if (this.user) this.user = { ...this.user, ...changes };
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

/**
 * A profile's spaces: the live one (the avatar's live ring), the upcoming ones (with reminder
 * buttons) and the recent ones, page by page. Loaded apart from the profile itself, so the
 * profile shows even when these cannot load.
 */
export class ProfileSpaces {
  #liveSpace = $state<ProfileSpacesData['liveSpace']>(null);
  #recent = $state(this.#recentOf(''));
  #error = $state<AppError | null>(null);
  readonly upcoming: UpcomingList;
  #api: Api;
  #handle = '';

  constructor(api: Api) {
    this.#api = api;
    this.upcoming = new UpcomingList(api);
  }

  get liveSpace(): ProfileSpacesData['liveSpace'] {
    return this.#liveSpace;
  }
  get recent(): RecentSpaceData[] {
    return this.#recent.items;
  }
  get recentHasMore(): boolean {
    return this.#recent.hasMore;
  }
  get loadingRecent(): boolean {
    return this.#recent.loading;
  }
  get error(): AppError | null {
    return this.#error ?? this.#recent.error;
  }

  async load(handle: string): Promise<void> {
    this.#handle = handle;
    // A list of its own per profile: a page of the one before that arrives late goes nowhere.
    // (Not read back from the field here: the page calls this in an effect, which would then
    // depend on the list it replaces.)
    const recent = this.#recentOf(handle);
    this.#recent = recent;
    try {
      const [spaces] = await Promise.all([this.#api.query(ProfileSpacesQuery, { handle }), recent.refresh()]);
      if (handle !== this.#handle) return;
      this.#liveSpace = spaces.user?.liveSpace ?? null;
      this.upcoming.replace(spaces.user?.upcomingSpaces ?? []);
      this.#error = null;
    } catch (error) {
      this.#error = toAppError(error);
    }
  }

  async loadMoreRecent(): Promise<void> {
    await this.#recent.loadMore();
  }

  #recentOf(handle: string): PagedList<RecentSpaceData> {
    return new PagedList(async (after) => {
      const data = await this.#api.query(RecentSpacesQuery, { handle, first: 10, after });
      const page = data.user?.recentSpaces;
      if (!page) return { items: [], hasMore: false, cursor: null };
      return { items: page.edges.map((e) => e.node), hasMore: page.pageInfo.hasNextPage, cursor: page.pageInfo.endCursor ?? null };
    });
  }
}

export type UserListKind = 'followers' | 'following';
export type ListedUser = UserBasic & { viewerFollows: boolean };

/** Followers or following of one user, page by page. */
export class UserList {
  #list = $state(new PagedList<ListedUser>(async () => ({ items: [], hasMore: false, cursor: null })));
  #status = $state<LoadStatus>('loading');
  #pending = $state<string[]>([]);
  #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  get users(): ListedUser[] {
    return this.#list.items;
  }
  get hasMore(): boolean {
    return this.#list.hasMore;
  }
  get status(): LoadStatus {
    return this.#status;
  }
  /** A further page is on its way (the first one is `status` 'loading'). */
  get loadingMore(): boolean {
    return this.#status === 'ready' && this.#list.loading;
  }
  get error(): AppError | null {
    return this.#list.error;
  }

  async load(handle: string, kind: UserListKind): Promise<void> {
    let found = true;
    const list = new PagedList<ListedUser>(async (after) => {
      const variables = { handle, first: 30, after };
      const user =
        kind === 'followers' ? (await this.#api.query(FollowersQuery, variables)).user : (await this.#api.query(FollowingQuery, variables)).user;
      found = !!user;
      if (!user) return { items: [], hasMore: false, cursor: null };
      const connection = 'followers' in user ? user.followers : user.following;
      return { items: connection.edges.map((e) => e.node), hasMore: connection.pageInfo.hasNextPage, cursor: connection.pageInfo.endCursor ?? null };
    });
    this.#list = list;
    this.#status = 'loading';
    await list.refresh();
    if (list !== this.#list) return; // another user's list was asked for meanwhile
    this.#status = !found ? 'not-found' : list.error ? 'error' : 'ready';
  }

  async loadMore(): Promise<void> {
    await this.#list.loadMore();
  }

  /** A follow (or unfollow) of someone listed is on its way. */
  isPending(id: string): boolean {
    return this.#pending.includes(id);
  }

  /** Follows or unfollows someone listed, from the list; throws the AppError after putting the button back. */
  async toggleFollow(id: string): Promise<void> {
    const list = this.#list;
    const person = list.items.find((u) => u.id === id);
    if (!person || this.isPending(id)) return;
    this.#pending = [...this.#pending, id];
    try {
      await toggleFollowing(this.#api, person, (viewerFollows) =>
        list.update((users) => users.map((u) => (u.id === id ? { ...u, viewerFollows } : u))),
      );
    } finally {
      this.#pending = this.#pending.filter((p) => p !== id);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Editing your own profile

/** The API's limits (api/src/services/profiles.ts): code points, after whitespace runs collapse. */
export const DISPLAY_NAME_MAX = 50;
export const BIO_MAX = 160;
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
export const AVATAR_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif'] as const;

/** Text as the API will keep it: one line, whitespace runs collapsed, trimmed. */
const oneLine = (text: string) => text.replace(/\s+/gu, ' ').trim();
const lengthOf = (text: string) => [...oneLine(text)].length;

export interface AvatarUrls {
  avatarUrl: string | null;
  avatarSmallUrl: string | null;
}

/** Sends an image to the API and resolves with the new avatar's URLs (throws an AppError). */
export type AvatarUploader = (image: Blob) => Promise<AvatarUrls>;

/** POST /media/avatar with the image itself as the body (see postImage). */
export function httpAvatarUploader(fetchImpl: typeof fetch = (...args) => fetch(...args)): AvatarUploader {
  return async (image) => {
    const data = await postImage<AvatarUrls>(fetchImpl, '/media/avatar', image, 'avatar');
    return { avatarUrl: data.avatarUrl ?? null, avatarSmallUrl: data.avatarSmallUrl ?? null };
  };
}

/** The editable part of the viewer's profile, as the editor starts from. */
export interface EditableProfile {
  displayName: string;
  bio: string;
  avatarUrl: string | null;
  avatarLargeUrl: string | null;
}

/** How a page makes object URLs for previews (a spec passes its own). */
export interface ObjectUrls {
  create(blob: Blob): string;
  revoke(url: string): void;
}

const browserObjectUrls: ObjectUrls = {
  create: (blob) => URL.createObjectURL(blob),
  revoke: (url) => URL.revokeObjectURL(url),
};

/** An avatar refused before sending it, in the same words as the server's refusal. */
const avatarRefusal = (reason: 'NOT_AN_IMAGE' | 'TOO_LARGE') =>
  toAppError({ message: '', extensions: { code: 'BAD_USER_INPUT', field: 'avatar', reason } });

/**
 * The "Edit profile" form: display name and bio (saved together with updateProfile), and the
 * avatar (uploaded as soon as it is chosen, shown as a preview meanwhile, or removed).
 */
export class ProfileEditor {
  #displayName = $state('');
  #bio = $state('');
  #saved = $state<EditableProfile>({ displayName: '', bio: '', avatarUrl: null, avatarLargeUrl: null });
  #saving = $state(false);
  #error = $state<AppError | null>(null);
  #touched = $state(false);
  #preview = $state<string | null>(null);
  #uploading = $state(false);
  #avatarError = $state<AppError | null>(null);

  #api: Api;
  #upload: AvatarUploader;
  #objectUrls: ObjectUrls;

  constructor(api: Api, start: EditableProfile, upload: AvatarUploader = httpAvatarUploader(), objectUrls: ObjectUrls = browserObjectUrls) {
    this.#api = api;
    this.#upload = upload;
    this.#objectUrls = objectUrls;
    this.#saved = { ...start };
    this.#displayName = start.displayName;
    this.#bio = start.bio;
  }

  get displayName(): string {
    return this.#displayName;
  }
  set displayName(value: string) {
    this.#displayName = value;
    if (this.#error?.field === 'displayName') this.#error = null;
  }

  get bio(): string {
    return this.#bio;
  }
  /** One line: a pasted or typed line break becomes a space, as the server would keep it. */
  set bio(value: string) {
    this.#bio = value.replace(/[\r\n]+/g, ' ');
    if (this.#error?.field === 'bio') this.#error = null;
  }

  /** Characters left for the bio (negative when over). */
  get bioLeft(): number {
    return BIO_MAX - lengthOf(this.#bio);
  }

  get saving(): boolean {
    return this.#saving;
  }
  /** An error of the last save that belongs to no field (the network, a limit). */
  get error(): AppError | null {
    return this.#error && !this.#error.field ? this.#error : null;
  }
  /** Whether errors may show (after the first save, so nobody is scolded while typing). */
  get touched(): boolean {
    return this.#touched;
  }

  #errors = $derived.by(() => {
    const errors: { displayName?: string; bio?: string } = {};
    const name = lengthOf(this.#displayName);
    if (name === 0) errors.displayName = 'Enter the name people will see.';
    else if (name > DISPLAY_NAME_MAX) errors.displayName = `Use at most ${DISPLAY_NAME_MAX} characters.`;
    if (lengthOf(this.#bio) > BIO_MAX) errors.bio = `Use at most ${BIO_MAX} characters.`;
    // The API names the field it refused: show its words beside that field.
    const field = this.#error?.field;
    if ((field === 'displayName' || field === 'bio') && !errors[field]) errors[field] = this.#error!.message;
    return errors;
  });

  get errors(): { displayName?: string; bio?: string } {
    return this.#errors;
  }
  get valid(): boolean {
    return Object.keys(this.#errors).length === 0;
  }
  get dirty(): boolean {
    return oneLine(this.#displayName) !== this.#saved.displayName || oneLine(this.#bio) !== this.#saved.bio;
  }

  /** Saves name and bio; resolves with what the server kept, or null (errors are on the form). */
  async save(): Promise<EditableProfile | null> {
    this.#touched = true;
    this.#error = null;
    if (!this.valid || this.#saving) return null;
    this.#saving = true;
    try {
      const data = await this.#api.mutate(UpdateProfileMutation, {
        input: { displayName: oneLine(this.#displayName), bio: oneLine(this.#bio) },
      });
      const user = data.updateProfile;
      this.#saved = { displayName: user.displayName, bio: user.bio, avatarUrl: user.avatarUrl ?? null, avatarLargeUrl: user.avatarLargeUrl ?? null };
      this.#displayName = user.displayName;
      this.#bio = user.bio;
      return { ...this.#saved };
    } catch (error) {
      this.#error = toAppError(error);
      return null;
    } finally {
      this.#saving = false;
    }
  }

  /** What the avatar shows now: the chosen picture while it uploads, else the saved one. */
  get avatarPreview(): string | null {
    return this.#preview ?? this.#saved.avatarLargeUrl;
  }
  get hasAvatar(): boolean {
    return this.#saved.avatarLargeUrl !== null;
  }
  get uploading(): boolean {
    return this.#uploading;
  }
  get avatarError(): AppError | null {
    return this.#avatarError;
  }

  /**
   * Uploads a chosen picture (shown at once as a preview); resolves with the new URLs, or null
   * when it was refused (the words are in avatarError). Type and size are checked here first,
   * so a 40 MB photo is not sent only to be refused.
   */
  async chooseAvatar(file: Blob): Promise<AvatarUrls | null> {
    this.#avatarError = null;
    if (this.#uploading) return null;
    if (file.type && !file.type.startsWith('image/')) {
      this.#avatarError = avatarRefusal('NOT_AN_IMAGE');
      return null;
    }
    if (file.size > AVATAR_MAX_BYTES) {
      this.#avatarError = avatarRefusal('TOO_LARGE');
      return null;
    }
    this.#setPreview(this.#objectUrls.create(file));
    this.#uploading = true;
    try {
      const urls = await this.#upload(file);
      this.#saved = { ...this.#saved, avatarUrl: urls.avatarSmallUrl, avatarLargeUrl: urls.avatarUrl };
      return urls;
    } catch (error) {
      this.#avatarError = toAppError(error);
      return null;
    } finally {
      this.#uploading = false;
      this.#setPreview(null);
    }
  }

  /** Removes the avatar (people see the initial again); resolves false when it failed. */
  async removeAvatar(): Promise<boolean> {
    this.#avatarError = null;
    if (this.#uploading) return false;
    this.#uploading = true;
    try {
      await this.#api.mutate(RemoveAvatarMutation, {});
      this.#saved = { ...this.#saved, avatarUrl: null, avatarLargeUrl: null };
      return true;
    } catch (error) {
      this.#avatarError = toAppError(error);
      return false;
    } finally {
      this.#uploading = false;
    }
  }

  /** Lets the preview's object URL go (the page calls this when the editor closes). */
  dispose(): void {
    this.#setPreview(null);
  }

  #setPreview(url: string | null): void {
    if (this.#preview) this.#objectUrls.revoke(this.#preview);
    this.#preview = url;
  }
}
