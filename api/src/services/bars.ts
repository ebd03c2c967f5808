import { BAR_SCHEDULED_WITHIN_MS } from '../domain/rules.ts';
import type { ActivityPayload, SpacesPubSub } from '../pubsub.ts';
import type { Follows } from './follows.ts';
import type { SpaceRow, Spaces } from './spaces/index.ts';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
/**
 * What a bar shows of each space: a new title, state or start time (a scheduled space edited or
 * started) is a new bar to send, as is a new set or order of spaces.
 */
const keyOf = (bar: SpaceRow[]) =>
  bar.map((s) => `${s.id}/${s.state}/${s.scheduledFor?.getTime() ?? ''}/${s.title}`).join('\n');

/**
 * One `spacesBar` subscription: its viewer's bar whenever it differs from the last one handed
 * out. Only the newest bar waits to be read (a slow reader skips bars, never falls behind).
 */
class BarStream implements AsyncIterableIterator<SpaceRow[]> {
  #sentKey: string | null = null;
  #pending: { bar: SpaceRow[]; key: string } | null = null;
  #failure: { error: unknown } | null = null;
  #waiting: { resolve: (result: IteratorResult<SpaceRow[]>) => void; reject: (error: unknown) => void } | null = null;
  #closed = false;

  constructor(private readonly onClose: () => void) {}

  offer(bar: SpaceRow[], key: string) {
    if (this.#closed) return;
    if (this.#waiting) {
      if (key === this.#sentKey) return;
      const { resolve } = this.#waiting;
      this.#waiting = null;
      this.#sentKey = key;
      resolve({ done: false, value: bar });
    } else this.#pending = key === this.#sentKey ? null : { bar, key };
  }

  /** Ends the stream with an error (the client is told, and may subscribe again). */
  fail(error: unknown) {
    if (this.#closed) return;
    if (this.#waiting) {
      const { reject } = this.#waiting;
      this.#waiting = null;
      void this.return();
      reject(error);
    } else this.#failure = { error };
  }

  next(): Promise<IteratorResult<SpaceRow[]>> {
    if (this.#pending) {
      const { bar, key } = this.#pending;
      this.#pending = null;
      this.#sentKey = key;
      return Promise.resolve({ done: false, value: bar });
    }
    if (this.#failure) {
      const { error } = this.#failure;
      void this.return();
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<SpaceRow[]>> {
    if (!this.#closed) {
      this.#closed = true;
      this.#pending = null;
      this.#failure = null;
      this.onClose();
      this.#waiting?.resolve(DONE);
      this.#waiting = null;
    }
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<SpaceRow[]>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

/** A viewer with at least one open bar on this instance. */
interface Viewer {
  id: string;
  streams: Set<BarStream>;
  /** Whom the viewer follows, as the index has it; reloaded when they follow or unfollow. */
  followees: Set<string>;
  followeesStale: boolean;
  /** A refresh is queued or running; `again`: another is wanted once it is done. */
  busy: boolean;
  again: boolean;
}

/**
 * The spaces bars open on this API instance. An activity event names the users whose stage
 * presence or follows changed; only the viewers who follow one of them, or are one of them, get
 * their bar queried again: the cost of an event grows with the bars it concerns, not with every
 * open bar. For that, each viewer's followees are loaded once (at the first subscription, and
 * again when they follow or unfollow someone) into an index followee → viewers. One query at a
 * time per viewer: a burst of events costs one more query, whatever its length.
 */
export class SpacesBars {
  readonly #viewers = new Map<string, Viewer>();
  readonly #byFollowee = new Map<string, Set<Viewer>>();
  #unlisten: (() => void) | null = null;
  #windowTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pubsub: SpacesPubSub,
    private readonly spaces: Pick<Spaces, 'spacesBar'>,
    private readonly follows: Pick<Follows, 'followeeIds'>,
  ) {}

  /** The viewer's bar: sent at once, then whenever it changes. */
  subscribe(viewerId: string): AsyncIterableIterator<SpaceRow[]> {
    this.#unlisten ??= this.pubsub.listen('activity', (event) => this.#onActivity(event));
    let viewer = this.#viewers.get(viewerId);
    if (!viewer) {
      viewer = { id: viewerId, streams: new Set(), followees: new Set(), followeesStale: true, busy: false, again: false };
      this.#viewers.set(viewerId, viewer);
    }
    const owner = viewer;
    const stream = new BarStream(() => this.#remove(owner, stream));
    viewer.streams.add(stream);
    // The new stream has sent nothing: whatever the next query finds goes to it.
    this.#refresh(viewer);
    return stream;
  }

  /** Open bars and the viewers behind them, on this instance. */
  get size() {
    let streams = 0;
    for (const viewer of this.#viewers.values()) streams += viewer.streams.size;
    return { viewers: this.#viewers.size, streams };
  }

  /**
   * A scheduled space enters the bar when it comes within BAR_SCHEDULED_WITHIN_MS of its start:
   * no change makes an event for that, so every `everyMs` the hosts whose spaces came within the
   * window since the last look (`hostsEntering`, one indexed query) count as activity.
   */
  watchScheduleWindow(hostsEntering: (from: Date, to: Date) => Promise<string[]>, everyMs = 60_000): void {
    let last = Date.now();
    let looking = false;
    this.#windowTimer = setInterval(() => {
      if (looking) return;
      const now = Date.now();
      if (this.#viewers.size === 0) {
        last = now;
        return;
      }
      looking = true;
      hostsEntering(new Date(last + BAR_SCHEDULED_WITHIN_MS), new Date(now + BAR_SCHEDULED_WITHIN_MS))
        .then((hostIds) => {
          last = now;
          if (hostIds.length > 0) this.#onActivity({ userIds: hostIds, at: new Date(now).toISOString() });
        })
        .catch((error) => console.error('[bars] scheduled spaces entering the bar', error))
        .finally(() => (looking = false));
    }, everyMs);
    this.#windowTimer.unref();
  }

  close() {
    if (this.#windowTimer) clearInterval(this.#windowTimer);
    this.#windowTimer = null;
    this.#unlisten?.();
    this.#unlisten = null;
    for (const viewer of [...this.#viewers.values()]) for (const stream of [...viewer.streams]) void stream.return();
  }

  #onActivity(event: ActivityPayload) {
    if (event.follow) {
      // Whom someone follows changes their own bar only (not their followers').
      const follower = this.#viewers.get(event.follow.followerId);
      if (follower) {
        follower.followeesStale = true;
        this.#refresh(follower);
      }
      return;
    }
    const touched = new Set<Viewer>();
    for (const userId of event.userIds) {
      const own = this.#viewers.get(userId);
      if (own) touched.add(own);
      const followers = this.#byFollowee.get(userId);
      if (followers) for (const viewer of followers) touched.add(viewer);
    }
    for (const viewer of touched) this.#refresh(viewer);
  }

  #refresh(viewer: Viewer) {
    if (viewer.busy) {
      viewer.again = true;
      return;
    }
    viewer.busy = true;
    // Events dispatched in the same tick (one NOTIFY batch) share the query.
    queueMicrotask(() => void this.#run(viewer));
  }

  async #run(viewer: Viewer) {
    try {
      do {
        viewer.again = false;
        if (viewer.streams.size === 0) return;
        if (viewer.followeesStale) {
          viewer.followeesStale = false;
          this.#index(viewer, await this.follows.followeeIds(viewer.id));
        }
        const bar = await this.spaces.spacesBar(viewer.id);
        const key = keyOf(bar);
        for (const stream of viewer.streams) stream.offer(bar, key);
      } while (viewer.again);
    } catch (error) {
      // The bars of this viewer can no longer be kept current: end them with the error; the
      // client subscribes again (and gets a fresh start) when it can.
      viewer.followeesStale = true;
      for (const stream of [...viewer.streams]) stream.fail(error);
    } finally {
      viewer.busy = false;
    }
  }

  #index(viewer: Viewer, followeeIds: string[]) {
    if (this.#viewers.get(viewer.id) !== viewer) return; // gone meanwhile
    const next = new Set(followeeIds);
    for (const id of viewer.followees) if (!next.has(id)) this.#unindex(viewer, id);
    for (const id of next) {
      let viewers = this.#byFollowee.get(id);
      if (!viewers) this.#byFollowee.set(id, (viewers = new Set()));
      viewers.add(viewer);
    }
    viewer.followees = next;
  }

  #unindex(viewer: Viewer, followeeId: string) {
    const viewers = this.#byFollowee.get(followeeId);
    if (!viewers) return;
    viewers.delete(viewer);
    if (viewers.size === 0) this.#byFollowee.delete(followeeId);
  }

  #remove(viewer: Viewer, stream: BarStream) {
    viewer.streams.delete(stream);
    if (viewer.streams.size > 0 || this.#viewers.get(viewer.id) !== viewer) return;
    this.#viewers.delete(viewer.id);
    for (const id of viewer.followees) this.#unindex(viewer, id);
    viewer.followees = new Set();
  }
}
