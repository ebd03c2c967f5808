import { toAppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import { FollowMutation, UnfollowMutation } from '$lib/graphql/documents';

/** Anyone a list can follow: an id and whether the viewer follows them. */
export interface Followable {
  id: string;
  viewerFollows: boolean;
}

/**
 * Follows or unfollows `person` from a list: `show` puts the new state on the button at once,
 * then the server's answer, or the old state back when the server says no (the AppError is
 * thrown then, for the page's one error handler).
 */
export async function toggleFollowing(api: Api, person: Followable, show: (viewerFollows: boolean) => void): Promise<void> {
  const follow = !person.viewerFollows;
  show(follow);
  try {
    const data = follow
      ? (await api.mutate(FollowMutation, { userId: person.id })).follow
      : (await api.mutate(UnfollowMutation, { userId: person.id })).unfollow;
    show(data.viewerFollows);
  } catch (error) {
    show(!follow);
    throw toAppError(error);
  }
}

/**
 * A list of people with a follow button each (search results, suggestions): following changes
 * the button at once and goes back if the server says no. Appending skips people already listed,
 * so pages that overlap (the list changed in between) never show anyone twice.
 */
export class PeopleList<T extends Followable> {
  #items = $state<T[]>([]);
  #pending = $state<string[]>([]);
  #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  get items(): T[] {
    return this.#items;
  }

  isPending(id: string): boolean {
    return this.#pending.includes(id);
  }

  replace(items: T[]): void {
    this.#items = items;
  }

  append(items: T[]): void {
    const seen = new Set(this.#items.map((p) => p.id));
    this.#items = [...this.#items, ...items.filter((p) => !seen.has(p.id))];
  }

  /** Follows or unfollows one of them; throws the AppError after putting the button back. */
  async toggleFollow(id: string): Promise<void> {
    const person = this.#items.find((p) => p.id === id);
    if (!person || this.isPending(id)) return;
    this.#pending = [...this.#pending, id];
    try {
      await toggleFollowing(this.#api, person, (viewerFollows) => this.#set(id, viewerFollows));
    } finally {
      this.#pending = this.#pending.filter((p) => p !== id);
    }
  }

  #set(id: string, viewerFollows: boolean): void {
    this.#items = this.#items.map((p) => (p.id === id ? { ...p, viewerFollows } : p));
  }
}
