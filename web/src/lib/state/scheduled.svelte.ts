import { toAppError, type AppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  CancelSpaceMutation,
  ScheduledSpaceQuery,
  SetReminderMutation,
  UpcomingSpacesQuery,
  UpdateSpaceMutation,
  type ScheduledSpaceData,
  type UpcomingSpaceData,
} from '$lib/graphql/documents';
import { toLocalInput } from '$lib/format';
import { TITLE_MAX, type SpeakerPolicy } from './home.svelte';
import { PagedList } from './paged-list.svelte';

/** How far ahead the API lets a host move a scheduled space (updateSpace). */
export const RESCHEDULE_MAX_DAYS = 30;
/** Upcoming spaces per page (home's list). */
const UPCOMING_PAGE = 20;

/** The reminder fields a list keeps per space, changed at once when the viewer taps the button. */
type WithReminder = { id: string; viewerHasReminder: boolean; reminderCount: number };

/**
 * Sets or clears the viewer's reminder: `apply` shows the change at once, and again with the
 * server's numbers (or the old ones when it was refused, then the AppError is thrown).
 */
async function toggleReminder<T extends WithReminder>(api: Api, space: T, apply: (changes: WithReminder) => void): Promise<void> {
  const on = !space.viewerHasReminder;
  const before = { id: space.id, viewerHasReminder: space.viewerHasReminder, reminderCount: space.reminderCount };
  apply({ id: space.id, viewerHasReminder: on, reminderCount: Math.max(0, space.reminderCount + (on ? 1 : -1)) });
  try {
    const data = await api.mutate(SetReminderMutation, { spaceId: space.id, on });
    apply(data.setReminder);
  } catch (error) {
    apply(before);
    throw toAppError(error);
  }
}

/**
 * Upcoming (scheduled) spaces with a reminder button each: home's list (paged from
 * upcomingSpaces) or a profile's (given). Reminders change at once and go back if refused.
 */
export class UpcomingList {
  #api: Api;
  #list: PagedList<UpcomingSpaceData>;
  #pending = $state<string[]>([]);

  constructor(api: Api) {
    this.#api = api;
    this.#list = new PagedList(async (after) => {
      const data = await api.query(UpcomingSpacesQuery, { first: UPCOMING_PAGE, after });
      return {
        items: data.upcomingSpaces.edges.map((e) => e.node).filter((s) => !s.cancelled),
        hasMore: data.upcomingSpaces.pageInfo.hasNextPage,
        cursor: data.upcomingSpaces.pageInfo.endCursor ?? null,
      };
    });
  }

  get items(): UpcomingSpaceData[] {
    return this.#list.items;
  }
  get hasMore(): boolean {
    return this.#list.hasMore;
  }
  get loading(): boolean {
    return this.#list.loading;
  }
  get error(): AppError | null {
    return this.#list.error;
  }
  isPending(id: string): boolean {
    return this.#pending.includes(id);
  }

  /** Shows these spaces (a profile's, loaded with it); cancelled ones are left out. */
  replace(items: UpcomingSpaceData[]): void {
    this.#list.replace(items.filter((s) => !s.cancelled));
  }

  /** The first page of upcomingSpaces (soonest first). */
  async refresh(): Promise<void> {
    await this.#list.refresh();
  }

  async loadMore(): Promise<void> {
    await this.#list.loadMore();
  }

  async toggleReminder(id: string): Promise<void> {
    const space = this.items.find((s) => s.id === id);
    if (!space || this.isPending(id)) return;
    this.#pending = [...this.#pending, id];
    try {
      await toggleReminder(this.#api, space, (changes) => {
        this.#list.update((items) => items.map((s) => (s.id === changes.id ? { ...s, ...changes } : s)));
      });
    } finally {
      this.#pending = this.#pending.filter((p) => p !== id);
    }
  }
}

export interface ScheduleDraft {
  title: string;
  /** A `datetime-local` value: the viewer's own wall clock. */
  scheduledFor: string;
  speakerPolicy: SpeakerPolicy;
}

/**
 * A scheduled space's own panel: the host edits (title, time, who can speak) or cancels it;
 * anyone else sets a reminder and sees how many did.
 */
export class ScheduledSpace {
  #space = $state<ScheduledSpaceData | null>(null);
  #status = $state<'loading' | 'ready' | 'error'>('loading');
  #error = $state<AppError | null>(null);
  #editing = $state(false);
  #draft = $state<ScheduleDraft>({ title: '', scheduledFor: '', speakerPolicy: 'EVERYONE' });
  #touched = $state(false);
  #saving = $state(false);
  #cancelling = $state(false);
  #reminding = $state(false);
  #api: Api;
  #now: () => number;

  constructor(api: Api, now: () => number = Date.now) {
    this.#api = api;
    this.#now = now;
  }

  get space(): ScheduledSpaceData | null {
    return this.#space;
  }
  get status() {
    return this.#status;
  }
  /** The last failure of a load, save, cancel or reminder, in words. */
  get error(): AppError | null {
    return this.#error;
  }
  get editing(): boolean {
    return this.#editing;
  }
  get draft(): ScheduleDraft {
    return this.#draft;
  }
  get touched(): boolean {
    return this.#touched;
  }
  get saving(): boolean {
    return this.#saving;
  }
  get cancelling(): boolean {
    return this.#cancelling;
  }
  get reminding(): boolean {
    return this.#reminding;
  }

  async load(id: string): Promise<void> {
    try {
      const data = await this.#api.query(ScheduledSpaceQuery, { id });
      this.#space = data.space;
      this.#status = data.space ? 'ready' : 'error';
      this.#error = null;
    } catch (error) {
      this.#error = toAppError(error);
      this.#status = 'error';
    }
  }

  /** Opens the editor with the space as it is. */
  edit(): void {
    const space = this.#space;
    if (!space) return;
    this.#draft = {
      title: space.title,
      scheduledFor: space.scheduledFor ? toLocalInput(new Date(space.scheduledFor)) : '',
      speakerPolicy: space.speakerPolicy as SpeakerPolicy,
    };
    this.#touched = false;
    this.#error = null;
    this.#editing = true;
  }

  closeEditor(): void {
    this.#editing = false;
    this.#error = null;
  }

  #errors = $derived.by(() => {
    const errors: { title?: string; scheduledFor?: string } = {};
    const title = this.#draft.title.trim();
    if (!title) errors.title = 'Give your space a title.';
    else if ([...title].length > TITLE_MAX) errors.title = `Use at most ${TITLE_MAX} characters.`;
    const at = new Date(this.#draft.scheduledFor);
    if (!this.#draft.scheduledFor || Number.isNaN(at.getTime())) errors.scheduledFor = 'Pick a date and time.';
    else if (at.getTime() <= this.#now()) errors.scheduledFor = 'Pick a time in the future.';
    else if (at.getTime() > this.#now() + RESCHEDULE_MAX_DAYS * 86_400_000)
      errors.scheduledFor = `Pick a time within ${RESCHEDULE_MAX_DAYS} days.`;
    const field = this.#error?.field;
    if ((field === 'title' || field === 'scheduledFor') && !errors[field]) errors[field] = this.#error!.message;
    return errors;
  });

  get errors(): { title?: string; scheduledFor?: string } {
    return this.#errors;
  }

  /** Saves what changed (only that is sent); resolves true when saved. */
  async save(): Promise<boolean> {
    const space = this.#space;
    this.#touched = true;
    if (!space || this.#saving || Object.keys(this.#errors).length > 0) return false;
    const input: { title?: string; scheduledFor?: string; speakerPolicy?: SpeakerPolicy } = {};
    const title = this.#draft.title.trim();
    if (title !== space.title) input.title = title;
    const at = new Date(this.#draft.scheduledFor).toISOString();
    if (!space.scheduledFor || new Date(space.scheduledFor).getTime() !== new Date(at).getTime()) input.scheduledFor = at;
    if (this.#draft.speakerPolicy !== space.speakerPolicy) input.speakerPolicy = this.#draft.speakerPolicy;
    if (Object.keys(input).length === 0) {
      this.#editing = false;
      return true;
    }
    this.#saving = true;
    this.#error = null;
    try {
      const data = await this.#api.mutate(UpdateSpaceMutation, { spaceId: space.id, input });
      this.#space = data.updateSpace;
      this.#editing = false;
      return true;
    } catch (error) {
      this.#error = toAppError(error);
      return false;
    } finally {
      this.#saving = false;
    }
  }

  /** Cancels the space (the page asks first); resolves true when it is cancelled. */
  async cancel(): Promise<boolean> {
    const space = this.#space;
    if (!space || this.#cancelling) return false;
    this.#cancelling = true;
    this.#error = null;
    try {
      const data = await this.#api.mutate(CancelSpaceMutation, { spaceId: space.id });
      this.#space = data.cancelSpace;
      this.#editing = false;
      return true;
    } catch (error) {
      this.#error = toAppError(error);
      return false;
    } finally {
      this.#cancelling = false;
    }
  }

  async toggleReminder(): Promise<void> {
    const space = this.#space;
    if (!space || this.#reminding) return;
    this.#reminding = true;
    this.#error = null;
    try {
      await toggleReminder(this.#api, space, (changes) => {
        if (this.#space?.id === changes.id) this.#space = { ...this.#space, ...changes };
      });
    } catch (error) {
      this.#error = toAppError(error);
    } finally {
      this.#reminding = false;
    }
  }
}
