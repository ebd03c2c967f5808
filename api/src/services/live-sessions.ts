import type { SpacesPubSub } from '../pubsub.ts';

/** setTimeout's longest delay (~24.8 days); a longer one fires at once. Longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a revocation is remembered, for sockets whose sign-in check raced with it. */
const REMEMBER_REVOKED_MS = 60_000;

interface Tracked {
  expiresAt: number;
  closers: Set<() => void>;
  timer: NodeJS.Timeout | null;
}

/**
 * The WebSockets of this instance by the session they were authenticated with. When a session
 * is revoked (Accounts.revokeSession publishes on the `session` topic, which reaches every
 * instance) or expires (a timer per session, unref'd), its sockets are closed.
 */
export class LiveSessions {
  readonly #sessions = new Map<string, Tracked>();
  /** Recently revoked session ids → when; pruned as new ones come. */
  readonly #revoked = new Map<string, number>();
  readonly #unlisten: () => void;

  constructor(pubsub: SpacesPubSub) {
    this.#unlisten = pubsub.listen('session', ({ sessionId }) => this.revoked(sessionId));
  }

  /**
   * Runs `close` when the session is revoked or expires (at once if it already was). Returns
   * the function that forgets it (call it when the socket closes for another reason).
   */
  track(sessionId: string, expiresAt: Date, close: () => void): () => void {
    if (this.#revoked.has(sessionId) || expiresAt.getTime() <= Date.now()) {
      close();
      return () => {};
    }
    let tracked = this.#sessions.get(sessionId);
    if (!tracked) {
      tracked = { expiresAt: expiresAt.getTime(), closers: new Set(), timer: null };
      this.#sessions.set(sessionId, tracked);
      this.#arm(sessionId, tracked);
    }
    const closer = () => close();
    tracked.closers.add(closer);
    const entry = tracked;
    return () => {
      entry.closers.delete(closer);
      if (entry.closers.size === 0 && this.#sessions.get(sessionId) === entry) this.#forget(sessionId, entry);
    };
  }

  /** The session was revoked (here or on another instance): close its sockets. */
  revoked(sessionId: string) {
    const now = Date.now();
    for (const [id, at] of this.#revoked) {
      if (now - at < REMEMBER_REVOKED_MS) break; // in insertion order: the rest are newer
      this.#revoked.delete(id);
    }
    this.#revoked.set(sessionId, now);
    this.#end(sessionId);
  }

  /** Sockets tracked on this instance, and their sessions. */
  get size() {
    let sockets = 0;
    for (const tracked of this.#sessions.values()) sockets += tracked.closers.size;
    return { sessions: this.#sessions.size, sockets };
  }

  close() {
    this.#unlisten();
    for (const [id, tracked] of this.#sessions) this.#forget(id, tracked);
  }

  #arm(sessionId: string, tracked: Tracked) {
    const wait = tracked.expiresAt - Date.now();
    tracked.timer = setTimeout(
      () => (wait > MAX_TIMER_MS ? this.#arm(sessionId, tracked) : this.#end(sessionId)),
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    tracked.timer.unref();
  }

  #end(sessionId: string) {
    const tracked = this.#sessions.get(sessionId);
    if (!tracked) return;
    this.#forget(sessionId, tracked);
    for (const close of tracked.closers) {
      try {
        close();
      } catch (error) {
        console.error('[sessions] closing a socket failed', error);
      }
    }
  }

  #forget(sessionId: string, tracked: Tracked) {
    if (tracked.timer) clearTimeout(tracked.timer);
    tracked.timer = null;
    this.#sessions.delete(sessionId);
  }
}
