import type postgres from 'postgres';

/**
 * What travels between instances: ids and small values only. Subscribers load the entities
 * themselves, so a payload stays far under NOTIFY's 8,000-byte limit.
 */
export interface SpaceEventPayload {
  kind: string;
  spaceId: string;
  participantId?: string | null;
  userId?: string | null;
  emoji?: string | null;
  /** ISO time of the change. */
  at: string;
  /**
   * Only these users receive the event (e.g. AUDIO_RECONNECT for the listeners whose relay died);
   * absent: everyone who may see it. Keep it short: the whole payload must fit a NOTIFY (the
   * Dispatcher splits longer lists over several payloads).
   */
  userIds?: string[];
  /** AUDIENCE_UPDATED: the summary of listeners' joins and leaves. */
  audience?: AudiencePayload;
}

/** A summary of a large audience's changes since the previous one (services/spaces/audience.ts). */
export interface AudiencePayload {
  /** Listeners in the space when the summary was made (all instances). */
  listenerCount: number;
  joined: number;
  left: number;
  /** A few of those who joined, at most AUDIENCE_SAMPLE_SIZE. */
  sampleUserIds: string[];
}

export type Topics = {
  /** Everything that happens in one space, in order. */
  space: [spaceId: string, payload: SpaceEventPayload];
  /**
   * These users started, ended, joined or left the stage of a live space: the spaces bars of
   * their followers (and their own) may have changed. Or one of them (`follow`) changed whom they
   * follow: their own bar may have.
   */
  activity: [payload: ActivityPayload];
  /** A session was revoked: every socket authenticated with it closes, on every instance. */
  session: [payload: { sessionId: string; at: string }];
  /** A new notification for one user (services/notifications.ts), by recipient id. */
  notification: [userId: string, payload: NotificationPayload];
  /** An author posted or deleted a fleet: the fleets bars of their followers (and their own) changed. */
  fleets: [payload: FleetsPayload];
};

export interface FleetsPayload {
  authorId: string;
  /** Set when the change is that this viewer saw one of the author's fleets: only their bar changes. */
  seenBy?: string;
  at: string;
}

/** A notification as it travels: its row, with the time as an ISO string. */
export interface NotificationPayload {
  id: string;
  userId: string;
  kind: string;
  actorId: string | null;
  spaceId: string | null;
  /** FLEET_REPLY: the fleet replied to. */
  fleetId?: string | null;
  createdAt: string;
}

export interface ActivityPayload {
  userIds: string[];
  at: string;
  /** Set when the change is a follow or unfollow: whose followees changed, and which one. */
  follow?: { followerId: string; followeeId: string; following: boolean };
}

type Payload<K extends keyof Topics> = Topics[K] extends [...unknown[], infer P] ? P : never;

/** Publish and subscribe by topic (with an id for `space`), as yoga's PubSub, for our topics. */
export interface SpacesPubSub {
  publish(topic: 'space', spaceId: string, payload: SpaceEventPayload): void;
  publish(topic: 'activity', payload: Payload<'activity'>): void;
  publish(topic: 'session', payload: Payload<'session'>): void;
  publish(topic: 'notification', userId: string, payload: NotificationPayload): void;
  publish(topic: 'fleets', payload: Payload<'fleets'>): void;
  subscribe(topic: 'space', spaceId: string): AsyncIterableIterator<SpaceEventPayload>;
  subscribe(topic: 'notification', userId: string): AsyncIterableIterator<NotificationPayload>;
  subscribe(topic: 'activity'): AsyncIterableIterator<Payload<'activity'>>;
  /**
   * A callback run synchronously on each payload of a topic, as it is dispatched: for one
   * per-instance consumer (no queue to fall behind on). Returns the function that stops it.
   */
  listen<K extends 'activity' | 'session' | 'fleets'>(topic: K, callback: (payload: Payload<K>) => void): () => void;
}

export interface EventBus {
  pubsub: SpacesPubSub;
  /**
   * Registers a callback for when this instance may have missed events: the PostgreSQL bus lost
   * its LISTEN connection (the database restarted, or the connection broke) and has it back.
   * Notifications sent in between never reach a listener, so subscribers must be told to
   * resubscribe and refetch (app.ts closes every socket with 1012). Returns the unregister function.
   */
  onMissedEvents(callback: () => void): () => void;
  close(): Promise<void>;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
/** A subscriber this far behind is dropped rather than buffered without end. */
const MAX_QUEUED = 1_000;

/**
 * One subscriber's queue: a plain async iterator. Cheaper than a Repeater per subscriber (the
 * fan-out benchmark spent ~14 ms per event in Repeater.push at 5,000 subscribers), and return()
 * takes effect at once.
 */
class TopicSubscription<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private closed = false;

  constructor(private readonly unlisten: () => void) {}

  push(value: T) {
    if (this.closed) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ done: false, value });
    } else if (this.queue.length >= MAX_QUEUED) {
      void this.return();
    } else this.queue.push(value);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length > 0) return Promise.resolve({ done: false, value: this.queue.shift()! });
    if (this.closed) return Promise.resolve(DONE);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.closed) {
      this.closed = true;
      this.queue.length = 0;
      this.unlisten();
      this.waiting?.(DONE);
      this.waiting = null;
    }
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

interface Receiver {
  push(value: unknown): void;
}

/** Local subscribers by topic key; every subscriber of a key gets the same payload object. */
class TopicHub {
  private readonly topics = new Map<string, Set<Receiver>>();

  private add(key: string, receiver: Receiver): () => void {
    let set = this.topics.get(key);
    if (!set) this.topics.set(key, (set = new Set()));
    set.add(receiver);
    return () => {
      set.delete(receiver);
      if (set.size === 0 && this.topics.get(key) === set) this.topics.delete(key);
    };
  }

  subscribe<T>(key: string): TopicSubscription<T> {
    let remove = () => {};
    const subscription = new TopicSubscription<T>(() => remove());
    remove = this.add(key, subscription as Receiver);
    return subscription;
  }

  listen(key: string, callback: (payload: unknown) => void): () => void {
    return this.add(key, {
      push: (payload) => {
        try {
          callback(payload);
        } catch (error) {
          console.error(`[pubsub] ${key} listener failed`, error);
        }
      },
    });
  }

  dispatch(key: string, payload: unknown) {
    const set = this.topics.get(key);
    if (set) for (const receiver of set) receiver.push(payload);
  }
}

/** `publish(topic, [id,] payload)` → the topic key and the payload. */
function route(topic: string, args: unknown[]): { key: string; payload: unknown } {
  return args.length === 2 ? { key: `${topic}:${args[0]}`, payload: args[1] } : { key: topic, payload: args[0] };
}

function pubSubOver(hub: TopicHub, send: (key: string, payload: unknown) => void): SpacesPubSub {
  return {
    publish: (topic: string, ...args: unknown[]) => {
      const { key, payload } = route(topic, args);
      send(key, payload);
    },
    subscribe: (topic: string, id?: string) => hub.subscribe(id === undefined ? topic : `${topic}:${id}`),
    listen: (topic: string, callback: (payload: unknown) => void) => hub.listen(topic, callback),
  } as SpacesPubSub;
}

const CHANNEL = 'spaces_events';
/** Messages per NOTIFY statement: each is at most 8,000 bytes. */
const NOTIFY_BATCH = 200;

export function createInProcessBus(): EventBus {
  const hub = new TopicHub();
  return {
    pubsub: pubSubOver(hub, (key, payload) => hub.dispatch(key, payload)),
    // In-process delivery cannot miss anything.
    onMissedEvents: () => () => {},
    close: async () => {},
  };
}

/**
 * Shares events between API instances through PostgreSQL LISTEN/NOTIFY on one channel.
 * Every instance (this one too) receives each NOTIFY and dispatches it to its local
 * subscribers, so delivery order is the commit order of the notifications.
 */
export async function createPostgresBus(sql: postgres.Sql): Promise<EventBus> {
  const hub = new TopicHub();
  const missed = new Set<() => void>();
  let listens = 0;
  const listener = await sql.listen(
    CHANNEL,
    (raw) => {
      try {
        const { key, payload } = JSON.parse(raw) as { key: string; payload: unknown };
        hub.dispatch(key, payload);
      } catch {
        // a malformed notification is not ours; ignore it
      }
    },
    // postgres.js runs this after every successful LISTEN: the first, and each one it issues again
    // by itself after its listening connection closed (database restart, network cut). Between
    // the close and the new LISTEN, NOTIFYs (including this instance's own) reached nobody here,
    // and nothing else says so: the subscriptions would silently skip those events (the fault
    // test src/faults/postgres-restart.test.ts showed a committed change never delivered). So
    // after a re-LISTEN, subscribers are told to resubscribe and refetch.
    () => {
      if (listens++ === 0) return;
      console.error('[pubsub] LISTEN re-established after its connection was lost: subscribers must refetch');
      for (const callback of missed) {
        try {
          callback();
        } catch (error) {
          console.error('[pubsub] missed-events callback failed', error);
        }
      }
    },
  );
  // One statement at a time (concurrent ones could take different pooled connections and
  // reorder), carrying every message published meanwhile: one NOTIFY round trip at a time used to
  // be the ceiling (a join storm queued thousands, each waiting for a pooled connection behind the
  // joins' own queries, and events arrived minutes late). A statement's notifications are
  // delivered together, in the order of the array, when it commits.
  let pending: string[] = [];
  let flushing: Promise<void> | null = null;
  // PostgreSQL delivers identical payloads of one transaction once: a sequence number keeps two
  // equal events (same reaction, same millisecond) apart.
  let sequence = 0;
  const flush = async () => {
    while (pending.length > 0) {
      const batch = pending.slice(0, NOTIFY_BATCH);
      pending = pending.slice(batch.length);
      try {
        await sql`select pg_notify(${CHANNEL}, message) from json_array_elements_text(${JSON.stringify(batch)}::text::json) with ordinality as m(message, n)`;
      } catch (error) {
        console.error(`[pubsub] notify of ${batch.length} message(s) failed`, error);
      }
    }
    flushing = null;
  };
  const send = (key: string, payload: unknown) => {
    pending.push(JSON.stringify({ key, payload, n: sequence++ }));
    flushing ??= flush();
  };
  return {
    pubsub: pubSubOver(hub, send),
    onMissedEvents: (callback) => {
      missed.add(callback);
      return () => missed.delete(callback);
    },
    close: async () => {
      await flushing;
      await listener.unlisten();
    },
  };
}
