import { AppError, toAppError } from '$lib/errors';
import { emptyAnswer, postImage } from '$lib/media-upload';
import type { Api } from '$lib/graphql/api';
import {
  FleetsBarQuery,
  FleetsBarSubscription,
  PostFleetMutation,
  SetDefaultReplyPolicyMutation,
  ViewerFleetDefaultsQuery,
  type FleetAuthorData,
  type FleetData,
} from '$lib/graphql/documents';

export type FleetBackground = FleetData['background'];
export type ReplyPolicy = FleetData['replyPolicy'];
export type ReplyRefusal = NonNullable<FleetData['viewerReplyRefusal']>;

/**
 * The API's palette of text backgrounds, as colours. Each pairs with a text colour that keeps
 * 4.5:1 or more (white on the dark ones, near-black on yellow).
 */
export const FLEET_BACKGROUNDS: Record<FleetBackground, { label: string; color: string; text: string }> = {
  BLUE: { label: 'Blue', color: '#1d4ed8', text: '#ffffff' },
  PURPLE: { label: 'Purple', color: '#6d28d9', text: '#ffffff' },
  PINK: { label: 'Pink', color: '#be185d', text: '#ffffff' },
  RED: { label: 'Red', color: '#b91c1c', text: '#ffffff' },
  ORANGE: { label: 'Orange', color: '#c2410c', text: '#ffffff' },
  YELLOW: { label: 'Yellow', color: '#facc15', text: '#1c1917' },
  GREEN: { label: 'Green', color: '#15803d', text: '#ffffff' },
  BLACK: { label: 'Black', color: '#18181b', text: '#ffffff' },
};

export const REPLY_POLICY_LABELS: Record<ReplyPolicy, { label: string; hint: string }> = {
  EVERYONE: { label: 'Everyone', hint: 'Anyone with an account can reply.' },
  FOLLOWING: { label: 'People I follow', hint: 'Only accounts you follow can reply.' },
  NOBODY: { label: 'Nobody', hint: 'Replies and reactions are off.' },
};

/** The quick reactions the viewer offers (a subset of what replyToFleet accepts). */
export const QUICK_REACTIONS = ['😂', '😮', '😢', '👏', '🔥', '❤️'] as const;

export const FLEET_TEXT_MAX = 280;
export const FLEET_PHOTO_MAX_BYTES = 8 * 1024 * 1024;

/** Text as the API keeps it: one line, whitespace runs collapsed, trimmed. */
export const oneLine = (text: string) => text.replace(/\s+/gu, ' ').trim();
/** Length in characters as a person counts them (an emoji is one). */
export const lengthOf = (text: string) => [...oneLine(text)].length;

/** Why the reply box is not there, in words ("Only people @hana follows can reply"); null when one may reply. */
export function replyRefusalText(refusal: ReplyRefusal | null | undefined, authorHandle: string): string | null {
  switch (refusal) {
    case null:
    case undefined:
    case 'OWN':
      return null;
    case 'NOBODY':
      return 'Replies are off for this fleet.';
    case 'NOT_FOLLOWED':
      return `Only people @${authorHandle} follows can reply.`;
    case 'GUEST':
      return 'Guests can’t reply. Create an account to reply.';
    case 'SIGNED_OUT':
      return 'Sign in to reply.';
    default:
      return 'You can’t reply to this fleet.';
  }
}

/**
 * The bar's fleet bubbles after the viewer's own: those with unseen fleets first, keeping the
 * API's order (most recent first) within each group. The viewer's own entry is left out: the
 * bar always shows it first, as "Add a fleet".
 */
export function orderFleetAuthors(authors: FleetAuthorData[], viewerId: string | null): FleetAuthorData[] {
  const others = authors.filter((a) => a.user.id !== viewerId && a.fleets.length > 0);
  return [...others.filter((a) => a.hasUnseen), ...others.filter((a) => !a.hasUnseen)];
}

/** The viewer's own avatar (for "Add a fleet" before they have any) and their default reply policy. */
export interface FleetViewerDefaults {
  avatarUrl: string | null;
  defaultReplyPolicy: ReplyPolicy;
}

/**
 * The fleets on home's bar, live through Subscription.fleetsBar. Only for accounts: guests and
 * signed-out visitors get none (the API would answer an empty list or UNAUTHENTICATED).
 */
export class FleetsBar {
  #authors = $state<FleetAuthorData[]>([]);
  #viewerId = $state<string | null>(null);
  #defaults = $state<FleetViewerDefaults>({ avatarUrl: null, defaultReplyPolicy: 'EVERYONE' });
  #error = $state<AppError | null>(null);
  #stop: (() => void) | null = null;
  #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  get enabled(): boolean {
    return this.#viewerId !== null;
  }
  /** Everyone on the bar as the API sent it (the viewer's own first when they have fleets). */
  get authors(): FleetAuthorData[] {
    return this.#authors;
  }
  /** The viewer's own entry, when they have active fleets. */
  get own(): FleetAuthorData | null {
    return this.#authors.find((a) => a.user.id === this.#viewerId && a.fleets.length > 0) ?? null;
  }
  /** Followed authors with active fleets, unseen first. */
  get others(): FleetAuthorData[] {
    return orderFleetAuthors(this.#authors, this.#viewerId);
  }
  get defaults(): FleetViewerDefaults {
    return this.#defaults;
  }
  get error(): AppError | null {
    return this.#error;
  }

  /** Follows the bar for an account holder (viewerId), or empties it (null: guest or signed out). */
  start(viewerId: string | null): void {
    this.stop();
    this.#viewerId = viewerId;
    this.#authors = [];
    if (!viewerId) return;
    void this.#api
      .query(ViewerFleetDefaultsQuery, {})
      .then((data) => {
        if (data.viewer)
          this.#defaults = { avatarUrl: data.viewer.avatarUrl ?? null, defaultReplyPolicy: data.viewer.defaultReplyPolicy ?? 'EVERYONE' };
      })
      .catch(() => {
        // Only the avatar and the preset policy come from here: the bar works without them.
      });
    void this.#api
      .query(FleetsBarQuery, {})
      .then((data) => (this.#authors = data.fleetsBar))
      .catch((error) => (this.#error = toAppError(error)));
    // Sent at once, then again whenever a followed account posts, deletes, or a fleet expires.
    this.#stop = this.#api.subscribe(FleetsBarSubscription, {}, {
      next: (data) => {
        this.#authors = data.fleetsBar;
        this.#error = null;
      },
      error: (error) => (this.#error = error),
    });
  }

  stop(): void {
    this.#stop?.();
    this.#stop = null;
  }

  /** The viewer changed their default in the composer. */
  setDefaultPolicy(policy: ReplyPolicy): void {
    this.#defaults = { ...this.#defaults, defaultReplyPolicy: policy };
  }
}

// ---------------------------------------------------------------------------------------------
// Composer

/** Sends a photo to the API and resolves with its upload id (throws an AppError). */
export type FleetPhotoUploader = (image: Blob) => Promise<string>;

/** POST /media/fleet-photo with the image itself as the body (the session cookie goes along). */
export function httpFleetPhotoUploader(fetchImpl: typeof fetch = (...args) => fetch(...args)): FleetPhotoUploader {
  return async (image) => {
    const { uploadId } = await postImage<{ uploadId: string }>(fetchImpl, '/media/fleet-photo', image, 'photo');
    if (!uploadId) throw emptyAnswer();
    return uploadId;
  };
}

/** A photo refused before sending it, in the same words as the server's refusal. */
const photoRefusal = (reason: 'NOT_AN_IMAGE' | 'TOO_LARGE') =>
  toAppError({ message: '', extensions: { code: 'BAD_USER_INPUT', field: 'photo', reason } });

export interface ObjectUrls {
  create(blob: Blob): string;
  revoke(url: string): void;
}
const browserObjectUrls: ObjectUrls = {
  create: (blob) => URL.createObjectURL(blob),
  revoke: (url) => URL.revokeObjectURL(url),
};

/** A live space shared into a fleet ("I'm live: <title>"). */
export interface SharedSpace {
  id: string;
  title: string;
}

export type FleetDraftKind = 'TEXT' | 'PHOTO';

/**
 * The fleet composer: a text on a background, or a photo with a caption (or, from a room, a live
 * space with an optional line); who can reply, and "make this my default". Photos are uploaded
 * when posting (an upload id lives an hour and makes one fleet).
 */
export class FleetDraft {
  kind = $state<FleetDraftKind>('TEXT');
  text = $state('');
  background = $state<FleetBackground>('BLUE');
  caption = $state('');
  replyPolicy = $state<ReplyPolicy>('EVERYONE');
  makeDefault = $state(false);
  #photo = $state<Blob | null>(null);
  #preview = $state<string | null>(null);
  #space = $state<SharedSpace | null>(null);
  #defaultPolicy: ReplyPolicy = 'EVERYONE';
  #submitting = $state(false);
  #touched = $state(false);
  #error = $state<AppError | null>(null);
  #api: Api;
  #upload: FleetPhotoUploader;
  #objectUrls: ObjectUrls;

  constructor(api: Api, upload: FleetPhotoUploader = httpFleetPhotoUploader(), objectUrls: ObjectUrls = browserObjectUrls) {
    this.#api = api;
    this.#upload = upload;
    this.#objectUrls = objectUrls;
  }

  /** Starts over: the viewer's default reply policy preselected, and a space to share when given. */
  reset(defaultPolicy: ReplyPolicy, space: SharedSpace | null = null): void {
    this.kind = 'TEXT';
    this.text = '';
    this.background = 'BLUE';
    this.caption = '';
    this.#defaultPolicy = defaultPolicy;
    this.replyPolicy = defaultPolicy;
    this.makeDefault = false;
    this.#space = space;
    this.#setPhoto(null);
    this.#touched = false;
    this.#error = null;
  }

  /** The viewer's default arrived (or changed): preselect it unless they already chose. */
  applyDefault(policy: ReplyPolicy): void {
    if (this.replyPolicy === this.#defaultPolicy) this.replyPolicy = policy;
    this.#defaultPolicy = policy;
  }

  get space(): SharedSpace | null {
    return this.#space;
  }
  get photo(): Blob | null {
    return this.#photo;
  }
  get preview(): string | null {
    return this.#preview;
  }
  get submitting(): boolean {
    return this.#submitting;
  }
  get touched(): boolean {
    return this.#touched;
  }
  get error(): AppError | null {
    return this.#error;
  }
  /** Whether "make this my default" means anything (the chosen policy differs from the default). */
  get policyDiffers(): boolean {
    return this.replyPolicy !== this.#defaultPolicy;
  }

  /** The text (or caption) being typed, and how many characters are left. */
  get charactersLeft(): number {
    return FLEET_TEXT_MAX - lengthOf(this.kind === 'PHOTO' ? this.caption : this.text);
  }

  readonly errors = $derived.by(() => {
    const errors: { text?: string; photo?: string; caption?: string } = {};
    if (this.kind === 'TEXT') {
      const length = lengthOf(this.text);
      // A shared space may go without a line; a plain text fleet needs one.
      if (length === 0 && !this.#space) errors.text = 'Write something first.';
      else if (length > FLEET_TEXT_MAX) errors.text = `Use at most ${FLEET_TEXT_MAX} characters.`;
    } else {
      if (!this.#photo) errors.photo = 'Choose a photo.';
      if (lengthOf(this.caption) > FLEET_TEXT_MAX) errors.caption = `Use at most ${FLEET_TEXT_MAX} characters.`;
    }
    // The API's words go beside the field it names.
    const field = this.#error?.field;
    if (this.#error && (field === 'text' || field === 'photo' || field === 'caption') && !errors[field]) errors[field] = this.#error.message;
    if (this.#error && field === 'photoUploadId' && !errors.photo) errors.photo = this.#error.message;
    return errors;
  });

  readonly valid = $derived(Object.keys(this.errors).length === 0);

  /**
   * Takes a chosen photo (shown at once as a preview). Type and size are checked here first, so
   * a 40 MB photo is not sent only to be refused; the rest (pixels, a file that only claims to be
   * an image) is the server's to say. Resolves false when refused (the words are in `error`).
   */
  choosePhoto(file: Blob | null): boolean {
    this.#error = null;
    if (!file) {
      this.#setPhoto(null);
      return false;
    }
    if (file.type && !file.type.startsWith('image/')) {
      this.#error = photoRefusal('NOT_AN_IMAGE');
      return false;
    }
    if (file.size > FLEET_PHOTO_MAX_BYTES) {
      this.#error = photoRefusal('TOO_LARGE');
      return false;
    }
    this.kind = 'PHOTO';
    this.#setPhoto(file);
    return true;
  }

  clearError(): void {
    this.#error = null;
  }

  /** Posts the fleet; resolves with it, or null when the form has errors (words in `errors` / `error`). */
  async submit(): Promise<FleetData | null> {
    this.#touched = true;
    this.#error = null;
    if (!this.valid || this.#submitting) return null;
    this.#submitting = true;
    try {
      const input: {
        text?: string;
        background?: FleetBackground;
        photoUploadId?: string;
        caption?: string;
        spaceId?: string;
        replyPolicy: ReplyPolicy;
      } = { replyPolicy: this.replyPolicy };
      if (this.kind === 'PHOTO' && this.#photo) {
        input.photoUploadId = await this.#upload(this.#photo);
        const caption = oneLine(this.caption);
        if (caption) input.caption = caption;
      } else {
        const text = oneLine(this.text);
        if (text) input.text = text;
        input.background = this.background;
      }
      if (this.#space) input.spaceId = this.#space.id;
      const data = await this.#api.mutate(PostFleetMutation, { input });
      if (this.makeDefault && this.policyDiffers) {
        // The fleet is out; a failed default is said, not thrown away with the post.
        try {
          await this.#api.mutate(SetDefaultReplyPolicyMutation, { policy: this.replyPolicy });
          this.#defaultPolicy = this.replyPolicy;
        } catch (error) {
          this.#error = toAppError(error);
        }
      }
      return data.postFleet;
    } catch (error) {
      this.#error = toAppError(error);
      return null;
    } finally {
      this.#submitting = false;
    }
  }

  /** Lets the preview's object URL go (when the sheet closes). */
  dispose(): void {
    this.#setPhoto(null);
  }

  #setPhoto(file: Blob | null): void {
    if (this.#preview) this.#objectUrls.revoke(this.#preview);
    this.#photo = file;
    this.#preview = file ? this.#objectUrls.create(file) : null;
  }
}

/**
 * The one composer sheet of the app: home's "Add a fleet", the viewer's and the room's "Share to
 * fleet" all open it.
 */
class FleetSheet {
  #open = $state(false);
  #space = $state<SharedSpace | null>(null);
  /** Bumped on every show, so the sheet starts a fresh draft. */
  #opened = $state(0);

  get open(): boolean {
    return this.#open;
  }
  set open(value: boolean) {
    this.#open = value;
  }
  get space(): SharedSpace | null {
    return this.#space;
  }
  get opened(): number {
    return this.#opened;
  }

  show(space: SharedSpace | null = null): void {
    this.#space = space;
    this.#opened++;
    this.#open = true;
  }
  hide(): void {
    this.#open = false;
  }
}

export const fleetSheet = new FleetSheet();
