import { describeError } from '$lib/errors';

export type NoticeKind = 'error' | 'info' | 'success';

export interface Notice {
  id: number;
  kind: NoticeKind;
  message: string;
}

/** Short messages shown in a live region (errors, confirmations); each fades after a while. */
export class Notices {
  items = $state<Notice[]>([]);
  #nextId = 1;
  #timers = new Map<number, ReturnType<typeof setTimeout>>();

  push(message: string, kind: NoticeKind = 'info', timeoutMs = kind === 'error' ? 8_000 : 4_000): number {
    // The same message twice in a row is shown once.
    const last = this.items.at(-1);
    if (last && last.message === message && last.kind === kind) return last.id;
    const id = this.#nextId++;
    this.items = [...this.items.slice(-4), { id, kind, message }];
    if (timeoutMs > 0) this.#timers.set(id, setTimeout(() => this.dismiss(id), timeoutMs));
    return id;
  }

  /** Puts any error into words (see errors.ts) and shows it. */
  error(error: unknown): number {
    return this.push(describeError(error), 'error');
  }

  info(message: string): number {
    return this.push(message, 'info');
  }

  success(message: string): number {
    return this.push(message, 'success');
  }

  dismiss(id: number): void {
    const timer = this.#timers.get(id);
    if (timer) clearTimeout(timer);
    this.#timers.delete(id);
    this.items = this.items.filter((n) => n.id !== id);
  }
}
