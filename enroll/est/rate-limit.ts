/**
 * Slows down token guessing (issue 3): failed authentications are counted per
 * client address in a fixed one-minute window that starts at the first failure.
 * Once `limit` failures are counted, every further authenticated request from
 * that address is answered 429 until the window has passed (RFC 6585 §4,
 * Retry-After per RFC 9110 §10.2.3), so no more than `limit` guesses are ever
 * checked per minute. Memory is bounded: expired windows are pruned, and past
 * `maxEntries` the oldest windows are dropped.
 */
export interface FailureLimiterOptions {
  /** Failures allowed per window; the next request is refused. */
  readonly limit: number;
  readonly clock: () => number;
  /** Window length in ms (default 60 000). */
  readonly windowMs?: number;
  /** Most addresses tracked at once (default 100 000). */
  readonly maxEntries?: number;
}

interface Window { start: number; count: number }

export class FailureLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;
  private readonly maxEntries: number;

  constructor(private readonly o: FailureLimiterOptions) {
    this.windowMs = o.windowMs ?? 60_000;
    this.maxEntries = o.maxEntries ?? 100_000;
  }

  /** Seconds to wait when this address is blocked now, otherwise undefined. */
  blockedFor(addr: string): number | undefined {
    const now = this.o.clock();
    const w = this.live(addr, now);
    if (!w || w.count < this.o.limit) return undefined;
    return Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
  }

  /** Records one failed authentication from this address. */
  fail(addr: string): void {
    const now = this.o.clock();
    const w = this.live(addr, now);
    if (w) {
      w.count++;
      return;
    }
    this.sweep(now);
    this.windows.set(addr, { start: now, count: 1 });
  }

  get size(): number {
    return this.windows.size;
  }

  private live(addr: string, now: number): Window | undefined {
    const w = this.windows.get(addr);
    if (w && now - w.start >= this.windowMs) {
      this.windows.delete(addr);
      return undefined;
    }
    return w;
  }

  /**
   * Windows are inserted with start = now, so the Map (insertion order) is
   * ordered by start: expired windows are at the front and pruning stops at the
   * first live one, O(1) amortized per insert. When full, the oldest go first.
   */
  private sweep(now: number): void {
    for (const [k, w] of this.windows) {
      if (now - w.start < this.windowMs && this.windows.size < this.maxEntries) break;
      this.windows.delete(k);
    }
  }
}
