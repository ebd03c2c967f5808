import { toAppError, type AppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  CreateSpaceMutation,
  LiveSpacesQuery,
  SpacesBarQuery,
  SpacesBarSubscription,
  SuggestedUsersQuery,
  type PersonData,
  type SpaceCardData,
  type SuggestedUserData,
} from '$lib/graphql/documents';
import { FleetsBar } from './fleets.svelte';
import { PeopleList } from './people.svelte';
import { UpcomingList } from './scheduled.svelte';

const PAGE = 20;

/**
 * The home screen: the spaces bar (live and soon, for the signed-in viewer), the live spaces
 * list and the upcoming (scheduled) spaces with reminder buttons.
 */
export class HomeFeed {
  bar = $state<SpaceCardData[]>([]);
  live = $state<SpaceCardData[]>([]);
  liveCursor = $state<string | null>(null);
  liveHasMore = $state(false);
  loadingLive = $state(false);
  liveError = $state<AppError | null>(null);
  barError = $state<AppError | null>(null);

  readonly upcoming: UpcomingList;
  /** The fleets after the live spaces on the bar (accounts only). */
  readonly fleets: FleetsBar;

  #api: Api;
  #stopBar: (() => void) | null = null;
  #stopReconnect: (() => void) | null = null;
  #barUpdates = 0;

  constructor(api: Api) {
    this.#api = api;
    this.upcoming = new UpcomingList(api);
    this.fleets = new FleetsBar(api);
  }

  /**
   * Loads the first page of live spaces, and follows the spaces bar when signed in; the fleets
   * too for an account (`accountId`; guests and signed-out visitors have none).
   */
  start(signedIn: boolean, accountId: string | null = null): void {
    this.stop();
    this.fleets.start(accountId);
    void this.refreshLive();
    void this.upcoming.refresh();
    this.#barUpdates = 0;
    if (signedIn) {
      void this.#api
        .query(SpacesBarQuery, {})
        .then((data) => (this.bar = data.spacesBar))
        .catch((error) => (this.barError = toAppError(error)));
      // The subscription sends the bar at once, then again whenever it changes.
      this.#stopBar = this.#api.subscribe(SpacesBarSubscription, {}, {
        next: (data) => {
          this.bar = data.spacesBar;
          this.barError = null;
          // A bar change past the first answer (someone went live, scheduled, edited or
          // cancelled): the lists below may have changed too.
          if (this.#barUpdates++ > 0) {
            void this.refreshLive();
            void this.upcoming.refresh();
          }
        },
        error: (error) => (this.barError = error),
      });
    } else {
      this.bar = [];
    }
    this.#stopReconnect = this.#api.onReconnected(() => {
      void this.refreshLive();
      void this.upcoming.refresh();
    });
  }

  stop(): void {
    this.fleets.stop();
    this.#stopBar?.();
    this.#stopBar = null;
    this.#stopReconnect?.();
    this.#stopReconnect = null;
  }

  async refreshLive(): Promise<void> {
    await this.#loadLive(null);
  }

  async loadMoreLive(): Promise<void> {
    if (this.liveHasMore && this.liveCursor) await this.#loadLive(this.liveCursor);
  }

  async #loadLive(after: string | null): Promise<void> {
    this.loadingLive = true;
    try {
      const data = await this.#api.query(LiveSpacesQuery, { first: PAGE, after });
      const nodes = data.liveSpaces.edges.map((e) => e.node);
      if (after) {
        const seen = new Set(this.live.map((s) => s.id));
        this.live = [...this.live, ...nodes.filter((s) => !seen.has(s.id))];
      } else {
        this.live = nodes;
      }
      this.liveCursor = data.liveSpaces.pageInfo.endCursor ?? null;
      this.liveHasMore = data.liveSpaces.pageInfo.hasNextPage;
      this.liveError = null;
    } catch (error) {
      this.liveError = toAppError(error);
    } finally {
      this.loadingLive = false;
    }
  }
}

/** A suggested person, with why they are suggested ("Followed by @ana and 2 others"). */
export type SuggestedPerson = PersonData & { reason: string | null };

/** "Followed by @ana", "Followed by @ana and @bo", "Followed by @ana and 3 others"; null for none. */
export function followedByText(suggestion: Pick<SuggestedUserData, 'followedBy' | 'followedByFollowingCount'>): string | null {
  const names = suggestion.followedBy.map((u) => `@${u.handle}`);
  const total = Math.max(suggestion.followedByFollowingCount, names.length);
  if (total === 0 || names.length === 0) return null;
  if (total === 1) return `Followed by ${names[0]}`;
  if (total === 2 && names.length >= 2) return `Followed by ${names[0]} and ${names[1]}`;
  const others = total - 1;
  return `Followed by ${names[0]} and ${others} other${others === 1 ? '' : 's'}`;
}

export const SUGGESTIONS = 5;

/**
 * "People to follow" on home: for a new account the most followed people, later people followed
 * by those the viewer follows. Someone followed from here stays listed (as "Following") until
 * the next load, so the list does not jump under the finger.
 */
export class SuggestedPeople {
  #status = $state<'idle' | 'loading' | 'ready' | 'error'>('idle');
  #error = $state<AppError | null>(null);
  readonly people: PeopleList<SuggestedPerson>;
  #api: Api;

  constructor(api: Api) {
    this.#api = api;
    this.people = new PeopleList<SuggestedPerson>(api);
  }

  get status() {
    return this.#status;
  }
  get error(): AppError | null {
    return this.#error;
  }

  async load(): Promise<void> {
    this.#status = 'loading';
    try {
      const data = await this.#api.query(SuggestedUsersQuery, { first: SUGGESTIONS });
      this.people.replace(data.suggestedUsers.map((s) => ({ ...s.user, reason: followedByText(s) })));
      this.#status = 'ready';
      this.#error = null;
    } catch (error) {
      this.#error = toAppError(error);
      this.#status = 'error';
    }
  }

  clear(): void {
    this.people.replace([]);
    this.#status = 'idle';
  }
}

export type SpeakerPolicy = 'EVERYONE' | 'FOLLOWING' | 'INVITED';

export const POLICY_LABELS: Record<SpeakerPolicy, { label: string; hint: string }> = {
  EVERYONE: { label: 'Everyone', hint: 'Anyone in the audience can ask to speak.' },
  FOLLOWING: { label: 'People you follow', hint: 'Only accounts you follow can ask to speak.' },
  INVITED: { label: 'Only people you invite', hint: 'Nobody speaks unless you invite them.' },
};

export const TITLE_MAX = 100;

/** The "Start a space" form: its fields, their checks, and submitting it. */
export class SpaceDraft {
  title = $state('');
  speakerPolicy = $state<SpeakerPolicy>('EVERYONE');
  schedule = $state(false);
  /** The value of a `datetime-local` input (local time, no zone). */
  scheduledFor = $state('');
  submitting = $state(false);
  error = $state<AppError | null>(null);
  /** Set after the first submit, so errors do not shout while someone is still typing. */
  touched = $state(false);

  #api: Api;
  #now: () => number;

  constructor(api: Api, now: () => number = Date.now) {
    this.#api = api;
    this.#now = now;
  }

  readonly errors = $derived.by(() => {
    const errors: { title?: string; scheduledFor?: string } = {};
    const title = this.title.trim();
    if (!title) errors.title = 'Give your space a title.';
    else if ([...title].length > TITLE_MAX) errors.title = `Use at most ${TITLE_MAX} characters.`;
    if (this.schedule) {
      const at = this.#scheduledDate();
      if (!at) errors.scheduledFor = 'Pick a date and time.';
      else if (at.getTime() <= this.#now()) errors.scheduledFor = 'Pick a time in the future.';
      else if (at.getTime() > this.#now() + 365 * 86_400_000) errors.scheduledFor = 'Pick a time within a year.';
    }
    // The API names the field at fault; show its words beside that field.
    if (this.error?.field === 'title' && !errors.title) errors.title = this.error.message;
    if (this.error?.field === 'scheduledFor' && !errors.scheduledFor) errors.scheduledFor = this.error.message;
    return errors;
  });

  readonly valid = $derived(Object.keys(this.errors).length === 0);

  #scheduledDate(): Date | null {
    if (!this.scheduledFor) return null;
    const at = new Date(this.scheduledFor);
    return Number.isNaN(at.getTime()) ? null : at;
  }

  /** Creates the space; resolves with its id, or null when the form has errors. */
  async submit(): Promise<string | null> {
    this.touched = true;
    this.error = null;
    if (!this.valid || this.submitting) return null;
    this.submitting = true;
    try {
      const scheduled = this.schedule ? this.#scheduledDate() : null;
      const data = await this.#api.mutate(CreateSpaceMutation, {
        input: {
          title: this.title.trim(),
          speakerPolicy: this.speakerPolicy,
          scheduledFor: scheduled ? scheduled.toISOString() : null,
        },
      });
      return data.createSpace.id;
    } catch (error) {
      this.error = toAppError(error);
      return null;
    } finally {
      this.submitting = false;
    }
  }

  reset(): void {
    this.title = '';
    this.speakerPolicy = 'EVERYONE';
    this.schedule = false;
    this.scheduledFor = '';
    this.error = null;
    this.touched = false;
  }
}
