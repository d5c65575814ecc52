/**
 * How many certificates one device may get, as pure decisions (table-tested in
 * test/unit/issuance-limits.test.ts). Re-enrollment (RFC 7030 §4.2.2) and
 * manufacturer-certificate enrollment can be repeated at will by whoever holds
 * the credential; without bounds one device collected 401 valid certificates in
 * 11 s. Two bounds:
 *  - a rate: at most RENEWALS_PER_WINDOW certificates issued to a device within
 *    any rolling RENEWAL_WINDOW_MS; a request beyond it is refused (429) with a
 *    Retry-After of when the oldest of them leaves the window. Token enrollment
 *    is operator-authorized and one-time, so it is never refused by the rate,
 *    but its certificate counts;
 *  - a cap: at most MAX_VALID_CERTIFICATES valid certificates per device. Issuing
 *    beyond it supersedes (revokes with reason superseded, RFC 5280 §5.3.1) the
 *    ones that expire first (never the one the request presented), in the
 *    transaction that records the new one, so the device is never without a
 *    valid certificate.
 */
export const RENEWALS_PER_WINDOW = 10;
export const RENEWAL_WINDOW_MS = 3_600_000;
export const MAX_VALID_CERTIFICATES = 3;

export interface IssuanceLimits {
  readonly perWindow: number;
  readonly windowMs: number;
  readonly maxValid: number;
}

export const DEFAULT_ISSUANCE_LIMITS: IssuanceLimits = Object.freeze({
  perWindow: RENEWALS_PER_WINDOW, windowMs: RENEWAL_WINDOW_MS, maxValid: MAX_VALID_CERTIFICATES,
});

export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

/**
 * `issuedAt`: issuance times of the device's certificates within the window
 * (after now - windowMs), oldest first. Admits the request when fewer than
 * perWindow fall in the window; otherwise says when enough of them will have
 * left it for one more to fit.
 */
export function renewalRate(issuedAt: readonly number[], now: number, l: IssuanceLimits): RateDecision {
  const inWindow = issuedAt.filter((t) => t > now - l.windowMs);
  if (inWindow.length < l.perWindow) return { ok: true };
  // The (n - perWindow + 1)-th oldest must leave the window before one more fits.
  const leaves = inWindow[inWindow.length - l.perWindow]! + l.windowMs;
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((leaves - now) / 1000)) };
}

/**
 * The certificates to supersede so that, with the one being issued, the device
 * holds at most maxValid valid certificates. `validOldestFirst`: its valid,
 * unexpired certificates, the one expiring first first. `presented`: the
 * certificate the request was authenticated with, which is never superseded:
 * it is the one credential the device is known to hold, and if the answer is
 * lost on the way the device must still be able to retry with it.
 */
export function toSupersede(validOldestFirst: readonly string[], l: Pick<IssuanceLimits, "maxValid">, presented?: string): string[] {
  const excess = validOldestFirst.length - (l.maxValid - 1);
  if (excess <= 0) return [];
  return validOldestFirst.filter((s) => s !== presented).slice(0, excess);
}
