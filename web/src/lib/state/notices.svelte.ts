import { describeError } from '$lib/errors';

export type NoticeKind = 'error' | 'info' | 'success';

export interface Notice {
  id: number;
  kind: NoticeKind;
  message: string;
  /** Notices with the same key replace each other (a newer role change replaces the older one's notice). */
  key?: string;
}

export interface NoticeOptions {
  /** How long it shows (ms; 0: until dismissed). */
  timeoutMs?: number;
  /** Replaces the notice with this key, if one is showing. */
  key?: string;
}

/** At most this many notices at once: older ones give way, so they never pile up. */
export const MAX_NOTICES = 3;

/** Short messages shown in a live region (errors, confirmations); each fades after a while. */
export class Notices {
  items = $state<Notice[]>([]);
  #nextId = 1;
  #timers = new Map<number, ReturnType<typeof setTimeout>>();

  push(message: string, kind: NoticeKind = 'info', options: number | NoticeOptions = {}): number {
    const { timeoutMs = kind === 'error' ? 8_000 : 4_000, key } = typeof options === 'number' ? { timeoutMs: options } : options;
    // The same message twice in a row is shown once (its time starts again).
    const last = this.items.at(-1);
    if (last && last.message === message && last.kind === kind) {
      this.#arm(last.id, timeoutMs);
      return last.id;
    }
    const replaced = key ? this.items.find((n) => n.key === key) : undefined;
    if (replaced) this.#clearTimer(replaced.id);
    const id = this.#nextId++;
    const kept = this.items.filter((n) => n !== replaced && !(n.message === message && n.kind === kind));
    for (const gone of kept.slice(0, Math.max(0, kept.length - (MAX_NOTICES - 1)))) this.#clearTimer(gone.id);
    this.items = [...kept.slice(-(MAX_NOTICES - 1)), { id, kind, message, key }];
    this.#arm(id, timeoutMs);
    return id;
  }

  /** Puts any error into words (see errors.ts) and shows it. */
  error(error: unknown): number {
    return this.push(describeError(error), 'error');
  }

  info(message: string, key?: string): number {
    return this.push(message, 'info', { key });
  }

  success(message: string, key?: string): number {
    return this.push(message, 'success', { key });
  }

  dismiss(id: number): void {
    this.#clearTimer(id);
    this.items = this.items.filter((n) => n.id !== id);
  }

  #arm(id: number, timeoutMs: number): void {
    this.#clearTimer(id);
    if (timeoutMs > 0) this.#timers.set(id, setTimeout(() => this.dismiss(id), timeoutMs));
  }

  #clearTimer(id: number): void {
    const timer = this.#timers.get(id);
    if (timer) clearTimeout(timer);
    this.#timers.delete(id);
  }
}
