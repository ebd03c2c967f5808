import { setMaxListeners } from 'node:events';
import { createPubSub, type PubSub } from 'graphql-yoga';
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
}

export type Topics = {
  /** Everything that happens in one space, in order. */
  space: [spaceId: string, payload: SpaceEventPayload];
  /**
   * These users started, ended, joined or left the stage of a live space, or changed whom they
   * follow: the spaces bars of their followers (and their own) may have changed.
   */
  activity: [payload: { userIds: string[]; at: string }];
};

export interface EventBus {
  pubsub: PubSub<Topics>;
  close(): Promise<void>;
}

const CHANNEL = 'spaces_events';

export function createInProcessBus(): EventBus {
  const eventTarget = new EventTarget();
  // One listener per subscription: thousands on a busy space are expected, not a leak.
  setMaxListeners(0, eventTarget);
  return { pubsub: createPubSub<Topics>({ eventTarget: eventTarget as never }), close: async () => {} };
}

/**
 * Shares events between API instances through PostgreSQL LISTEN/NOTIFY on one channel.
 * Every instance (this one too) receives each NOTIFY and dispatches it to its local
 * subscribers, so delivery order is the commit order of the notifications.
 */
export async function createPostgresBus(sql: postgres.Sql): Promise<EventBus> {
  const local = new EventTarget();
  // One listener per subscription: thousands on a busy space are expected, not a leak.
  setMaxListeners(0, local);
  const listener = await sql.listen(CHANNEL, (raw) => {
    try {
      const { type, detail } = JSON.parse(raw) as { type: string; detail: unknown };
      local.dispatchEvent(new CustomEvent(type, { detail }));
    } catch {
      // a malformed notification is not ours; ignore it
    }
  });
  // One notify at a time: concurrent ones could take different pooled connections and reorder.
  let queue: Promise<unknown> = Promise.resolve();
  const eventTarget = {
    addEventListener: local.addEventListener.bind(local),
    removeEventListener: local.removeEventListener.bind(local),
    dispatchEvent(event: Event) {
      const { type, detail } = event as CustomEvent;
      const message = JSON.stringify({ type, detail });
      queue = queue
        .then(() => sql.notify(CHANNEL, message))
        .catch((error) => console.error('[pubsub] notify failed', error));
      return true;
    },
  } as EventTarget;
  return {
    pubsub: createPubSub<Topics>({ eventTarget: eventTarget as never }),
    close: async () => {
      await queue;
      await listener.unlisten();
    },
  };
}
