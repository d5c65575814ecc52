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

export type PublishVerdict = "ok" | "drop" | "abuse";

/**
 * The per-client publish limit: excess publishes are dropped; a client that keeps
 * exceeding the rate (drops with gaps under one second) for `abuseMs` is
 * disconnected. One object per publishing client.
 */
export class PublishLimiter extends TokenBucket {
  private streakStart = -1;
  private lastDrop = -1;

  constructor(rate: number, burst: number, private readonly abuseMs: number, now: number) {
    super(rate, burst, now);
  }

  check(now: number): PublishVerdict {
    if (this.take(now)) return "ok";
    if (this.streakStart < 0 || now - this.lastDrop > 1000) this.streakStart = now;
    this.lastDrop = now;
    return now - this.streakStart >= this.abuseMs ? "abuse" : "drop";
  }
}

/** The subset of mqtt-packet's Parser that the size cap touches. */
export interface SizeCappable {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(err: Error): unknown;
}

/**
 * Builds one replacement for mqtt-packet's `_parseLength`, shared by every
 * connection, that caps the packet size. mqtt-packet buffers a packet until its
 * declared remaining length (up to 256 MiB, §2.2.3) has arrived, so the check
 * must happen as soon as the length is parsed, before the body is buffered. The
 * parser then errors and aedes closes the connection (MQTT 3.1.1 has no reason
 * code for it). Install with `parser._parseLength = cap`.
 */
export function packetSizeCap(maxBytes: number, onTooLarge: (parser: SizeCappable, length: number) => void): (this: SizeCappable) => boolean {
  let parseLength: (() => boolean) | undefined; // mqtt-packet's own, looked up once
  return function cappedParseLength(this: SizeCappable): boolean {
    parseLength ??= (Object.getPrototypeOf(this) as SizeCappable)._parseLength;
    const ok = parseLength.call(this);
    if (ok && this.packet.length > maxBytes) {
      onTooLarge(this, this.packet.length);
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the ${maxBytes}-byte limit`));
      return false;
    }
    return ok;
  };
}
