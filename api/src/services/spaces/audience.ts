import { AUDIENCE_EVENT_THRESHOLD, AUDIENCE_SAMPLE_SIZE, AUDIENCE_UPDATE_INTERVAL_MS } from '../../domain/rules.ts';
import type { AudiencePayload } from '../../pubsub.ts';

/** How many listeners a space has now, read from the database (so every instance's joins count). */
export type ListenerCounter = (spaceId: string) => Promise<number>;

/** What a summary is published as: the Dispatcher's own publish, so it goes where events go. */
export type SummaryPublisher = (spaceId: string, event: { kind: 'AUDIENCE_UPDATED'; audience: AudiencePayload }) => void;

/** A listener's individual join or leave, as the Dispatcher would have published it. */
export interface ListenerMove {
  kind: 'PARTICIPANT_JOINED' | 'PARTICIPANT_LEFT';
  userId?: string | null;
}

/** One space's summary in the making, and its cool-down after a summary went out. */
interface Pending {
  joined: number;
  left: number;
  /** The latest joiners still present (at most AUDIENCE_SAMPLE_SIZE), oldest first. */
  sample: string[];
  /** The next flush: while this entry exists, one is always scheduled or running. */
  timer: NodeJS.Timeout | null;
}

/**
 * Turns listeners' joins and leaves in large audiences into one AUDIENCE_UPDATED per space per
 * AUDIENCE_UPDATE_INTERVAL_MS, so a join storm costs each subscriber O(1) messages a second, not
 * one per join.
 *
 * Per instance, at publish time: each API instance summarises the moves committed through it and
 * publishes its summary on the space's topic (one NOTIFY a second instead of one per join); the
 * summary's listenerCount is read from the database when it is flushed, so it counts every
 * instance's listeners. With K instances taking joins for one space at once, subscribers get up to
 * K summaries a second, each with that instance's joined/left.
 *
 * Whether a move is summarised is decided by the transaction that made it (`crowded`: the space had
 * more than AUDIENCE_EVENT_THRESHOLD listeners then, counted in the database), and, once a summary
 * is pending, every later move of the space goes into it until it is flushed: events of one space
 * keep their order (no individual PARTICIPANT_LEFT overtakes the summary holding the join).
 */
export class AudienceAggregator {
  readonly #pending = new Map<string, Pending>();
  /** Spaces last seen with more than AUDIENCE_EVENT_THRESHOLD listeners (by a move, or a count). */
  readonly #crowded = new Set<string>();
  #counter: ListenerCounter | null = null;
  #closed = false;

  constructor(private readonly publish: SummaryPublisher) {}

  /** Where listener counts come from (the space reads); until set, nothing is summarised. */
  countWith(counter: ListenerCounter): void {
    this.#counter = counter;
  }

  /** Takes the move into its space's summary (true), or leaves it to be published on its own. */
  take(spaceId: string, move: ListenerMove, crowded: boolean): boolean {
    if (!this.#counter || this.#closed) return false;
    if (crowded) this.#crowded.add(spaceId);
    let pending = this.#pending.get(spaceId);
    // A summary is going out or cooling down: moves keep their order behind it.
    const open = !!pending && pending.joined + pending.left > 0;
    if (!crowded && !open) return false;
    if (!pending) {
      pending = { joined: 0, left: 0, sample: [], timer: null };
      this.#pending.set(spaceId, pending);
      // The first summary after a quiet second goes at once (moves of this tick coalesce).
      this.#schedule(spaceId, pending, 0);
    }
    const userId = move.userId ?? null;
    if (move.kind === 'PARTICIPANT_JOINED') {
      pending.joined++;
      if (userId && !pending.sample.includes(userId)) {
        pending.sample.push(userId);
        if (pending.sample.length > AUDIENCE_SAMPLE_SIZE) pending.sample.shift();
      }
    } else {
      pending.left++;
      // Gone again already: not one to name as having joined.
      if (userId) pending.sample = pending.sample.filter((id) => id !== userId);
    }
    return true;
  }

  /**
   * Whether the space was last seen crowded: listeners' own audio changes (connected or not) are
   * then told to them alone, not to every subscriber.
   */
  isCrowded(spaceId: string): boolean {
    return this.#crowded.has(spaceId);
  }

  /** The space ended: its pending summary has nobody left to tell. */
  forget(spaceId: string): void {
    this.#crowded.delete(spaceId);
    const pending = this.#pending.get(spaceId);
    if (pending?.timer) clearTimeout(pending.timer);
    this.#pending.delete(spaceId);
  }

  /** Stops every timer (the app is stopping): pending summaries are dropped. */
  close(): void {
    this.#closed = true;
    for (const spaceId of [...this.#pending.keys()]) this.forget(spaceId);
  }

  /** Spaces with a summary pending or cooling down (for tests and metrics). */
  get size(): number {
    return this.#pending.size;
  }

  #schedule(spaceId: string, pending: Pending, delayMs: number): void {
    pending.timer = setTimeout(() => void this.#flush(spaceId, pending), delayMs);
    pending.timer.unref();
  }

  async #flush(spaceId: string, pending: Pending): Promise<void> {
    pending.timer = null;
    if (this.#pending.get(spaceId) !== pending) return; // forgotten meanwhile
    // Nothing happened during the cool-down: the space is quiet, its next move may go at once.
    if (pending.joined + pending.left === 0) {
      this.#pending.delete(spaceId);
      return;
    }
    const { joined, left } = pending;
    const sample = [...pending.sample];
    let listenerCount: number;
    try {
      listenerCount = await this.#counter!(spaceId);
    } catch (error) {
      console.error('[audience] could not count listeners; retrying', error);
      if (this.#pending.get(spaceId) === pending) this.#schedule(spaceId, pending, AUDIENCE_UPDATE_INTERVAL_MS);
      return;
    }
    if (this.#pending.get(spaceId) !== pending) return;
    if (listenerCount > AUDIENCE_EVENT_THRESHOLD) this.#crowded.add(spaceId);
    else this.#crowded.delete(spaceId);
    // Moves that arrived during the count go into the next summary.
    pending.joined -= joined;
    pending.left -= left;
    pending.sample = pending.sample.filter((id) => !sample.includes(id));
    const audience: AudiencePayload = { listenerCount, joined, left, sampleUserIds: sample };
    this.publish(spaceId, { kind: 'AUDIENCE_UPDATED', audience });
    // The cool-down: the next summary no sooner than a full interval after this one went out.
    this.#schedule(spaceId, pending, AUDIENCE_UPDATE_INTERVAL_MS);
  }
}
