import { rateLimited } from '../errors.ts';

/**
 * Fixed-window counter per key, in memory. Enough for one instance; several instances each
 * count on their own, which loosens the limit by the instance count but never blocks wrongly.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one hit for key; throws RATE_LIMITED once the window's limit is passed. */
  hit(key: string, now = Date.now()): void {
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
      if (this.windows.size > 10_000) this.sweep(now);
    }
    w.count++;
    if (w.count > this.limit) throw rateLimited(w.start + this.windowMs - now);
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private sweep(now: number) {
    for (const [key, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(key);
  }
}
