import { describe, expect, it } from 'vitest';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { Search, SEARCH_PAGE, type Timers } from './search.svelte';

/** Timers a spec runs by hand: `fire()` runs what is due, as if the person paused typing. */
class ManualTimers implements Timers {
  pending = new Map<number, () => void>();
  #next = 0;
  set(run: () => void) {
    this.pending.set(++this.#next, run);
    return this.#next;
  }
  clear(handle: unknown) {
    this.pending.delete(handle as number);
  }
  fire() {
    const runs = [...this.pending.values()];
    this.pending.clear();
    for (const run of runs) run();
  }
}

const person = (n: number) => ({
  id: `U${n}`,
  handle: `p${n}`,
  displayName: `Person ${n}`,
  avatarUrl: null,
  bio: '',
  viewerFollows: false,
  followsViewer: false,
});
const space = (n: number) => ({
  id: `S${n}`,
  title: `Space ${n}`,
  state: 'LIVE' as const,
  speakerPolicy: 'EVERYONE' as const,
  scheduledFor: null,
  startedAt: '2026-01-01T00:00:00.000Z',
  participantCount: 1,
  listenerCount: 0,
  host: { id: 'U1', handle: 'p1', displayName: 'Person 1', avatarUrl: null },
  stage: [],
});
const connection = <T>(nodes: T[], endCursor: string | null, hasNextPage: boolean) => ({
  edges: nodes.map((node) => ({ node })),
  pageInfo: { endCursor, hasNextPage },
});
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function searchWith(api: FakeApi) {
  const timers = new ManualTimers();
  return { search: new Search(api, { timers }), timers };
}

describe('Search', () => {
  it('waits for typing to pause, then asks for people and spaces once', async () => {
    const api = new FakeApi()
      .on('SearchPeople', { search: connection([person(1)], 'p', false) })
      .on('SearchSpaces', { searchSpaces: connection([space(1)], 's', false) });
    const { search, timers } = searchWith(api);
    search.query = 'h';
    search.query = 'ha';
    search.query = 'hana ';
    expect(search.pending).toBe(true);
    expect(api.calls).toHaveLength(0);
    timers.fire();
    await flush();
    expect(api.callsTo('SearchPeople')).toEqual([{ name: 'SearchPeople', variables: { query: 'hana', first: SEARCH_PAGE, after: null } }]);
    expect(api.callsTo('SearchSpaces')).toHaveLength(1);
    expect(search.status).toBe('ready');
    expect(search.searched).toBe('hana');
    expect(search.pending).toBe(false);
    expect(search.people.items.map((p) => p.handle)).toEqual(['p1']);
    expect(search.spaces.map((s) => s.id)).toEqual(['S1']);
  });

  it('asks nothing for an empty query (or a lone @), and clears the results', async () => {
    const api = new FakeApi()
      .on('SearchPeople', { search: connection([person(1)], null, false) })
      .on('SearchSpaces', { searchSpaces: connection([], null, false) });
    const { search } = searchWith(api);
    search.query = 'p';
    await search.run();
    expect(search.people.items).toHaveLength(1);
    search.query = ' @ ';
    await search.run();
    expect(api.callsTo('SearchPeople')).toHaveLength(1);
    expect(search.status).toBe('idle');
    expect(search.people.items).toHaveLength(0);
  });

  it('never lets an older answer replace a newer one', async () => {
    let release: (() => void) | undefined;
    const api = new FakeApi()
      .on('SearchPeople', async (v: Record<string, unknown>) => {
        if (v.query === 'slow') await new Promise<void>((r) => (release = r));
        return { search: connection([v.query === 'slow' ? person(1) : person(2)], null, false) };
      })
      .on('SearchSpaces', { searchSpaces: connection([], null, false) });
    const { search } = searchWith(api);
    search.query = 'slow';
    const slow = search.run();
    await flush();
    search.query = 'fast';
    await search.run();
    release!();
    await slow;
    expect(search.searched).toBe('fast');
    expect(search.people.items.map((p) => p.id)).toEqual(['U2']);
  });

  it('pages each list on its own with Show more, without duplicates', async () => {
    const api = new FakeApi()
      .on('SearchPeople', (v: Record<string, unknown>) => ({
        search: v.after ? connection([person(2), person(3)], 'p2', false) : connection([person(1), person(2)], 'p1', true),
      }))
      .on('SearchSpaces', (v: Record<string, unknown>) => ({
        searchSpaces: v.after ? connection([space(3)], 's2', false) : connection([space(1), space(2)], 's1', true),
      }));
    const { search } = searchWith(api);
    search.query = 'p';
    await search.run();
    expect(search.peopleHasMore).toBe(true);
    await search.loadMorePeople();
    expect(api.callsTo('SearchPeople')[1]?.variables).toEqual({ query: 'p', first: SEARCH_PAGE, after: 'p1' });
    expect(search.people.items.map((p) => p.id)).toEqual(['U1', 'U2', 'U3']);
    expect(search.peopleHasMore).toBe(false);
    expect(api.callsTo('SearchSpaces')).toHaveLength(1);
    await search.loadMoreSpaces();
    expect(search.spaces.map((s) => s.id)).toEqual(['S1', 'S2', 'S3']);
    expect(search.spacesHasMore).toBe(false);
  });

  it('keeps the error in words', async () => {
    const api = new FakeApi()
      .on('SearchPeople', graphQLError('RATE_LIMITED', 'slow', { retryAfterMs: 2000 }))
      .on('SearchSpaces', { searchSpaces: connection([], null, false) });
    const { search } = searchWith(api);
    search.query = 'x';
    await search.run();
    expect(search.status).toBe('error');
    expect(search.error?.message).toBe("You're doing that too often. Try again in 2 seconds.");
  });

  it('cuts a pasted essay to what the API takes, and stops waiting when disposed', async () => {
    const api = new FakeApi()
      .on('SearchPeople', { search: connection([], null, false) })
      .on('SearchSpaces', { searchSpaces: connection([], null, false) });
    const { search, timers } = searchWith(api);
    search.query = 'a'.repeat(150);
    await search.run();
    expect((api.callsTo('SearchPeople')[0]?.variables.query as string).length).toBe(100);
    search.query = 'later';
    search.dispose();
    expect(timers.pending.size).toBe(0);
    expect(search.pending).toBe(false);
  });
});
