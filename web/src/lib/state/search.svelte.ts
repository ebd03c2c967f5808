import { toAppError, type AppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import { SearchPeopleQuery, SearchSpacesQuery, type PersonData, type SpaceCardData } from '$lib/graphql/documents';
import { PeopleList } from './people.svelte';

export const SEARCH_PAGE = 10;
/** The API refuses longer queries (BAD_USER_INPUT). */
export const QUERY_MAX = 100;

export type SearchStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface Timers {
  set(run: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (run, ms) => setTimeout(run, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The query as sent: trimmed, a leading @ kept (the API ignores it), cut to what the API takes. */
const normalise = (text: string) => [...text.trim()].slice(0, QUERY_MAX).join('');

/**
 * The search page: people and spaces matching what was typed, asked for once typing pauses
 * (debounced), each list paged with "Show more". An answer for an older query never replaces
 * the answer for a newer one.
 */
export class Search {
  #query = $state('');
  /** The query the results belong to. */
  #searched = $state('');
  #status = $state<SearchStatus>('idle');
  #error = $state<AppError | null>(null);
  #spaces = $state<SpaceCardData[]>([]);
  #peopleCursor = $state<string | null>(null);
  #peopleHasMore = $state(false);
  #spacesCursor = $state<string | null>(null);
  #spacesHasMore = $state(false);
  #loadingMore = $state<'people' | 'spaces' | null>(null);

  readonly people: PeopleList<PersonData>;

  #api: Api;
  #delayMs: number;
  #timers: Timers;
  #timer: unknown = null;
  /** A search is waiting for typing to pause (reactive, unlike the timer handle). */
  #waiting = $state(false);
  /** Bumped by every new search: answers carrying an older number are dropped. */
  #generation = 0;

  constructor(api: Api, options: { delayMs?: number; timers?: Timers } = {}) {
    this.#api = api;
    this.people = new PeopleList<PersonData>(api);
    this.#delayMs = options.delayMs ?? 300;
    this.#timers = options.timers ?? realTimers;
  }

  get query(): string {
    return this.#query;
  }
  /** What the person typed: searched once they pause typing. */
  set query(value: string) {
    this.#query = value;
    this.#cancelTimer();
    this.#waiting = true;
    this.#timer = this.#timers.set(() => {
      this.#timer = null;
      void this.run();
    }, this.#delayMs);
  }

  get searched(): string {
    return this.#searched;
  }
  get status(): SearchStatus {
    return this.#status;
  }
  get error(): AppError | null {
    return this.#error;
  }
  get spaces(): SpaceCardData[] {
    return this.#spaces;
  }
  get peopleHasMore(): boolean {
    return this.#peopleHasMore;
  }
  get spacesHasMore(): boolean {
    return this.#spacesHasMore;
  }
  get loadingMore(): 'people' | 'spaces' | null {
    return this.#loadingMore;
  }
  /** Typed but not searched yet (or searching): results on screen are for an older query. */
  get pending(): boolean {
    return this.#waiting || this.#status === 'loading';
  }

  /** Searches now (Enter, or a query from the address bar). */
  async run(): Promise<void> {
    this.#cancelTimer();
    const query = normalise(this.#query);
    const generation = ++this.#generation;
    if (query.replace(/^@/, '') === '') {
      this.#searched = '';
      this.#status = 'idle';
      this.#error = null;
      this.people.replace([]);
      this.#spaces = [];
      this.#peopleHasMore = this.#spacesHasMore = false;
      return;
    }
    this.#status = 'loading';
    try {
      const [people, spaces] = await Promise.all([
        this.#api.query(SearchPeopleQuery, { query, first: SEARCH_PAGE, after: null }),
        this.#api.query(SearchSpacesQuery, { query, first: SEARCH_PAGE, after: null }),
      ]);
      if (generation !== this.#generation) return;
      this.people.replace(people.search.edges.map((e) => e.node));
      this.#peopleCursor = people.search.pageInfo.endCursor ?? null;
      this.#peopleHasMore = people.search.pageInfo.hasNextPage;
      this.#spaces = spaces.searchSpaces.edges.map((e) => e.node);
      this.#spacesCursor = spaces.searchSpaces.pageInfo.endCursor ?? null;
      this.#spacesHasMore = spaces.searchSpaces.pageInfo.hasNextPage;
      this.#searched = query;
      this.#status = 'ready';
      this.#error = null;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#error = toAppError(error);
      this.#status = 'error';
    }
  }

  async loadMorePeople(): Promise<void> {
    if (!this.#peopleHasMore || this.#loadingMore) return;
    const generation = this.#generation;
    this.#loadingMore = 'people';
    try {
      const data = await this.#api.query(SearchPeopleQuery, { query: this.#searched, first: SEARCH_PAGE, after: this.#peopleCursor });
      if (generation !== this.#generation) return;
      this.people.append(data.search.edges.map((e) => e.node));
      this.#peopleCursor = data.search.pageInfo.endCursor ?? null;
      this.#peopleHasMore = data.search.pageInfo.hasNextPage;
    } catch (error) {
      if (generation === this.#generation) this.#error = toAppError(error);
    } finally {
      this.#loadingMore = null;
    }
  }

  async loadMoreSpaces(): Promise<void> {
    if (!this.#spacesHasMore || this.#loadingMore) return;
    const generation = this.#generation;
    this.#loadingMore = 'spaces';
    try {
      const data = await this.#api.query(SearchSpacesQuery, { query: this.#searched, first: SEARCH_PAGE, after: this.#spacesCursor });
      if (generation !== this.#generation) return;
      const seen = new Set(this.#spaces.map((s) => s.id));
      this.#spaces = [...this.#spaces, ...data.searchSpaces.edges.map((e) => e.node).filter((s) => !seen.has(s.id))];
      this.#spacesCursor = data.searchSpaces.pageInfo.endCursor ?? null;
      this.#spacesHasMore = data.searchSpaces.pageInfo.hasNextPage;
    } catch (error) {
      if (generation === this.#generation) this.#error = toAppError(error);
    } finally {
      this.#loadingMore = null;
    }
  }

  /** Stops a pending search (the page is going away). */
  dispose(): void {
    this.#cancelTimer();
    this.#generation++;
  }

  #cancelTimer(): void {
    if (this.#timer !== null) this.#timers.clear(this.#timer);
    this.#timer = null;
    this.#waiting = false;
  }
}
