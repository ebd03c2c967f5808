import { toAppError, type AppError } from '$lib/errors';

/** One page of a connection, as a list's loader returns it. */
export interface ListPage<T> {
  items: T[];
  hasMore: boolean;
  cursor: string | null;
}

/**
 * A list read page by page from a connection (first/after): a later page adds only the items not
 * already shown (a row may move between pages while reading), a refresh starts over.
 */
export class PagedList<T extends { id: string }> {
  #items = $state<T[]>([]);
  #cursor: string | null = null;
  #hasMore = $state(false);
  #loading = $state(false);
  #error = $state<AppError | null>(null);
  #load: (after: string | null) => Promise<ListPage<T>>;

  constructor(load: (after: string | null) => Promise<ListPage<T>>) {
    this.#load = load;
  }

  get items(): T[] {
    return this.#items;
  }
  get hasMore(): boolean {
    return this.#hasMore;
  }
  get loading(): boolean {
    return this.#loading;
  }
  get error(): AppError | null {
    return this.#error;
  }

  async refresh(): Promise<void> {
    await this.#fetch(null);
  }
  async loadMore(): Promise<void> {
    if (this.#hasMore && this.#cursor && !this.#loading) await this.#fetch(this.#cursor);
  }

  /** Shows these items as the whole list (loaded with something else), with no page after them. */
  replace(items: T[]): void {
    this.#items = items;
    this.#hasMore = false;
    this.#cursor = null;
  }

  /** Changes the items in place (an optimistic change, or the server's answer to one). */
  update(change: (items: T[]) => T[]): void {
    this.#items = change(this.#items);
  }

  async #fetch(after: string | null): Promise<void> {
    this.#loading = true;
    try {
      const page = await this.#load(after);
      if (after) {
        const seen = new Set(this.#items.map((i) => i.id));
        this.#items = [...this.#items, ...page.items.filter((i) => !seen.has(i.id))];
      } else {
        this.#items = page.items;
      }
      this.#cursor = page.cursor;
      this.#hasMore = page.hasMore;
      this.#error = null;
    } catch (error) {
      this.#error = toAppError(error);
    } finally {
      this.#loading = false;
    }
  }
}
