/**
 * Per-client and per-process limits (config.limits). Pure state machines over a
 * caller-supplied clock; the hooks apply them.
 */

/** A token bucket: `rate` tokens per second, at most `burst` banked. No timers: refilled lazily. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether the bucket would be full at `now` (its owner has been idle long enough to be forgotten). */
  isFull(now: number): boolean {
    return this.tokens + (Math.max(0, now - this.last) * this.rate) / 1000 >= this.burst;
  }
}

/**
 * "ok": publish now. A number: hold the publish that many ms (QoS 1/2:
 * backpressure). "drop": QoS 0 over the rate. "abuse": over the rate for
 * `abuseMs` in a row; disconnect.
 */
export type PublishVerdict = "ok" | "drop" | "abuse" | number;

/**
 * The per-client publish limit. An acknowledged message must be delivered or
 * refused, never lost, so a QoS 1/2 publish over the rate is not dropped: it
 * takes its token on credit and waits until the bucket has refilled. Its
 * acknowledgement waits with it, and aedes reads nothing more from that socket
 * until the publish is done, so TCP slows the client to the rate (the way EMQX
 * throttles). A QoS 0 publish (at most once) over the rate is dropped. A client
 * that stays over the rate (throttled publishes with gaps under one second,
 * counting a held publish as throttled until its release) for `abuseMs` is
 * disconnected. One object per publishing client.
 */
export class PublishLimiter {
  private tokens: number;
  private last: number;
  private streakStart = -1;
  /** When the latest throttled publish arrived or (if held) is released. */
  private lastThrottled = -1;

  constructor(private readonly rate: number, private readonly burst: number, private readonly abuseMs: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  /** `canWait`: the publish is QoS 1/2 (its acknowledgement can be held); false for QoS 0. */
  check(now: number, canWait = false): PublishVerdict {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return "ok";
    }
    if (this.streakStart < 0 || now - this.lastThrottled > 1000) this.streakStart = now;
    this.lastThrottled = Math.max(this.lastThrottled, now);
    if (now - this.streakStart >= this.abuseMs) return "abuse";
    if (!canWait) return "drop";
    // On credit: released when the bucket is back at zero.
    this.tokens -= 1;
    const wait = Math.ceil((-this.tokens * 1000) / this.rate);
    this.lastThrottled = Math.max(this.lastThrottled, now + wait);
    return wait;
  }
}
