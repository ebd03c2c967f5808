/** Event name -> listener arguments. */
export type EventMap = Record<string, unknown[]>;

type Listener<Args extends unknown[]> = (...args: Args) => void;
// Storage type: listeners of different events live in one map.
 
type StoredListener = (...args: any[]) => void;

/**
 * A small typed event emitter. A throwing listener is reported asynchronously (like an uncaught
 * error) instead of breaking the loop that emitted, which here is the session's event poller.
 */
export class TypedEmitter<Events extends EventMap> {
  readonly #listeners = new Map<keyof Events, Set<StoredListener>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /** Resolves with the arguments of the next `event`, or rejects after `timeoutMs`. */
  waitFor<K extends keyof Events>(
    event: K,
    options: { timeoutMs?: number; filter?: (...args: Events[K]) => boolean } = {},
  ): Promise<Events[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`Timed out after ${options.timeoutMs} ms waiting for "${String(event)}"`));
      }, options.timeoutMs ?? 10_000);
      const off = this.on(event, (...args) => {
        if (options.filter && !options.filter(...args)) return;
        off();
        clearTimeout(timer);
        resolve(args);
      });
    });
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  protected removeAllListeners(): void {
    this.#listeners.clear();
  }
}
