/**
 * Reconnect and retry delays, as a pure function of the attempt number and a
 * random source, so a storm of devices that lost their connection at the same
 * instant spreads out instead of hammering the gateway in lockstep.
 */
export interface BackoffPolicy {
  /** Cap of the first retry, ms. */
  readonly baseMs: number;
  /** Largest cap, ms: the delay never exceeds this. */
  readonly maxMs: number;
  /** Growth of the cap per failed attempt. */
  readonly factor: number;
}

/** Firmware-like defaults: first retry within 250 ms, then doubling up to 30 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 250, maxMs: 30_000, factor: 2 });

/**
 * "Equal jitter" exponential backoff: the cap grows as base * factor^(attempt-1)
 * up to maxMs, and the delay is a uniformly random point in [cap/2, cap]. Half
 * the cap is a floor, so no retry is ever immediate; the random half spreads a
 * herd over a window that widens with each failure.
 * `attempt` counts consecutive failures and starts at 1. `random` returns [0, 1).
 */
export function backoffDelay(attempt: number, p: BackoffPolicy, random: () => number): number {
  const n = Math.max(1, Math.floor(attempt));
  // Clamp the exponent before Math.pow so attempt 10_000 does not become Infinity * 0.
  const grown = p.baseMs * Math.pow(p.factor, Math.min(n - 1, 64));
  const cap = Math.min(p.maxMs, grown);
  return Math.round(cap / 2 + random() * (cap / 2));
}

/**
 * The wait before retrying an HTTP refusal that names a Retry-After (RFC 9110
 * §10.2.3, EST 429/503 per RFC 7030 §4.2.3): the server's word wins when it
 * asks for longer than our own backoff.
 */
export function retryDelay(attempt: number, p: BackoffPolicy, random: () => number, retryAfterSeconds?: number): number {
  const own = backoffDelay(attempt, p, random);
  return retryAfterSeconds !== undefined && retryAfterSeconds > 0 ? Math.max(own, Math.min(retryAfterSeconds * 1000, p.maxMs * 4)) : own;
}
