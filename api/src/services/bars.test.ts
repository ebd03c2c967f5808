import { describe, expect, it } from 'vitest';
import { createInProcessBus } from '../pubsub.ts';
import { SpacesBars } from './bars.ts';
import type { SpaceRow } from './spaces/index.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
const space = (id: string) => ({ id }) as SpaceRow;

/** Bars over an in-memory world: who follows whom, and which users are live. */
function world() {
  const bus = createInProcessBus();
  const following = new Map<string, Set<string>>();
  const live = new Set<string>();
  const calls = { bar: [] as string[], followees: [] as string[] };
  let failNext: Error | null = null;
  const spaces = {
    spacesBar: async (viewerId: string) => {
      calls.bar.push(viewerId);
      if (failNext) {
        const error = failNext;
        failNext = null;
        throw error;
      }
      return [...(following.get(viewerId) ?? [])].filter((u) => live.has(u)).sort().map((u) => space(`s-${u}`));
    },
  };
  const follows = {
    followeeIds: async (followerId: string) => {
      calls.followees.push(followerId);
      return [...(following.get(followerId) ?? [])];
    },
  };
  const bars = new SpacesBars(bus.pubsub, spaces, follows);
  const follow = (a: string, b: string, yes = true) => {
    const set = following.get(a) ?? new Set();
    following.set(a, set);
    if (yes) set.add(b);
    else set.delete(b);
    bus.pubsub.publish('activity', { userIds: [a], at: '', follow: { followerId: a, followeeId: b, following: yes } });
  };
  const goLive = (u: string, yes = true) => {
    if (yes) live.add(u);
    else live.delete(u);
    bus.pubsub.publish('activity', { userIds: [u], at: '' });
  };
  /** In the bar from now on, without an activity event (as a scheduled space entering the window). */
  const goLiveQuietly = (u: string) => live.add(u);
  const reset = () => {
    calls.bar.length = 0;
    calls.followees.length = 0;
  };
  return { bars, calls, follow, goLive, goLiveQuietly, reset, following, fail: (e: Error) => (failNext = e) };
}

/** Collects what a bar stream yields. */
function collect(stream: AsyncIterableIterator<SpaceRow[]>) {
  const seen: string[][] = [];
  let error: unknown = null;
  void (async () => {
    try {
      for await (const bar of stream) seen.push(bar.map((s) => s.id));
    } catch (e) {
      error = e;
    }
  })();
  return { seen, error: () => error };
}

describe('SpacesBars', () => {
  it('sends the bar at once, then only the viewers an event concerns, only on change', async () => {
    const w = world();
    w.following.set('v1', new Set(['h1']));
    w.following.set('v2', new Set(['h2']));
    const a = collect(w.bars.subscribe('v1'));
    const b = collect(w.bars.subscribe('v2'));
    await tick();
    expect([a.seen, b.seen]).toEqual([[[]], [[]]]);
    w.reset();

    w.goLive('h1');
    await tick();
    expect(w.calls.bar).toEqual(['v1']);
    expect([a.seen, b.seen]).toEqual([[[], ['s-h1']], [[]]]);

    // Someone nobody here follows: no query at all.
    w.reset();
    w.goLive('stranger');
    await tick();
    expect(w.calls).toEqual({ bar: [], followees: [] });
  });

  it("reloads a viewer's followees when they follow or unfollow, and only theirs", async () => {
    const w = world();
    w.following.set('fan', new Set(['v']));
    const v = collect(w.bars.subscribe('v'));
    const fan = collect(w.bars.subscribe('fan'));
    await tick();
    w.reset();

    w.goLive('h');
    w.follow('v', 'h');
    await tick();
    // v's own bar; not the bar of v's follower.
    expect(w.calls).toEqual({ bar: ['v'], followees: ['v'] });
    expect(v.seen).toEqual([[], ['s-h']]);
    // The index follows: h ending is now v's business.
    w.reset();
    w.goLive('h', false);
    await tick();
    expect(w.calls.bar).toEqual(['v']);
    w.follow('v', 'h', false);
    await tick();
    w.reset();
    w.goLive('h');
    await tick();
    expect(w.calls.bar).toEqual([]);
    expect(fan.seen).toEqual([[]]);
  });

  it('coalesces a burst into at most one more query per viewer', async () => {
    const w = world();
    w.following.set('v', new Set(['h']));
    const v = collect(w.bars.subscribe('v'));
    await tick();
    w.reset();
    for (let i = 0; i < 100; i++) w.goLive('h', i % 2 === 0);
    await tick();
    expect(w.calls.bar.length).toBeLessThanOrEqual(2);
    expect(v.seen.at(-1)).toEqual([]);
  });

  it('shares one viewer between streams, sends each its first bar, and forgets the viewer with its last stream', async () => {
    const w = world();
    w.following.set('v', new Set(['h']));
    const one = w.bars.subscribe('v');
    const a = collect(one);
    const b = collect(w.bars.subscribe('v'));
    await tick();
    expect([a.seen, b.seen]).toEqual([[[]], [[]]]);
    expect(w.calls.followees).toEqual(['v']);
    expect(w.bars.size).toEqual({ viewers: 1, streams: 2 });
    await one.return?.();
    expect(w.bars.size).toEqual({ viewers: 1, streams: 1 });
    w.bars.close();
    expect(w.bars.size).toEqual({ viewers: 0, streams: 0 });
    w.reset();
    w.goLive('h');
    await tick();
    expect(w.calls.bar).toEqual([]);
  });

  it("ends a viewer's streams with the error when their bar cannot be queried", async () => {
    const w = world();
    w.following.set('v', new Set(['h']));
    const v = collect(w.bars.subscribe('v'));
    await tick();
    w.fail(new Error('database gone'));
    w.goLive('h');
    await tick();
    expect((v.error() as Error)?.message).toBe('database gone');
    expect(w.bars.size).toEqual({ viewers: 0, streams: 0 });
  });
});

describe('SpacesBars.watchScheduleWindow', () => {
  it("treats hosts whose scheduled spaces came within the bar's window as activity, looking at each moment once", async () => {
    const w = world();
    w.following.set('v', new Set(['h']));
    const v = collect(w.bars.subscribe('v'));
    await tick();
    const windows: [number, number][] = [];
    let entering: string[] = [];
    w.bars.watchScheduleWindow(async (from, to) => {
      windows.push([from.getTime(), to.getTime()]);
      const hosts = entering;
      entering = [];
      return hosts;
    }, 10);
    // The space comes within the window: the bar is queried again and shows it.
    w.goLiveQuietly('h');
    entering = ['h', 'stranger'];
    await new Promise((r) => setTimeout(r, 60));
    w.bars.close();
    expect(v.seen).toEqual([[], ['s-h']]);
    expect(windows.length).toBeGreaterThan(1);
    // Consecutive looks cover adjacent intervals: nothing is skipped or seen twice.
    for (let i = 1; i < windows.length; i++) expect(windows[i]![0]).toBe(windows[i - 1]![1]);
  });
});
