import { parseDuration } from "../runtime/duration.js";
import { GatewayError } from "../errors.js";

/**
 * When a device re-enrolls (RFC 7030 §4.2.2 simplereenroll). Pure: takes the
 * certificate's validity and the time the device obtained it.
 *  - fraction f: renew once f of the lifetime has elapsed (default 2/3, that is
 *    when less than a third is left, which leaves two retry windows before expiry);
 *  - seconds s: renew s seconds after the certificate was obtained (tests and
 *    demos, where a real lifetime of days is too long to wait for).
 */
export type RenewAt = { readonly kind: "fraction"; readonly value: number } | { readonly kind: "seconds"; readonly value: number };

export const DEFAULT_RENEW_AT: RenewAt = Object.freeze({ kind: "fraction", value: 2 / 3 });

export interface Validity {
  readonly notBefore: number;
  readonly notAfter: number;
}

/** "0.5" or ".5" is a fraction of the lifetime; "90", "30s", "5m", "1h" are seconds after obtaining the certificate. */
export function parseRenewAt(text: string): RenewAt {
  const t = text.trim();
  if (/^0?\.\d+$/.test(t)) {
    const f = Number(t);
    if (!(f > 0 && f < 1)) throw new GatewayError("FG_USAGE", `--renew-at fraction must be between 0 and 1 (got ${JSON.stringify(text)})`);
    return { kind: "fraction", value: f };
  }
  return { kind: "seconds", value: parseDuration(t, "--renew-at") };
}

/** The instant (ms epoch) at which the device should re-enroll this certificate. */
export function renewalTime(cert: Validity, obtainedAt: number, r: RenewAt): number {
  if (r.kind === "seconds") return Math.min(obtainedAt + r.value * 1000, cert.notAfter);
  return cert.notBefore + r.value * (cert.notAfter - cert.notBefore);
}

export type CredentialUsability = "valid" | "expired" | "notYetValid";

/** A certificate outside its validity cannot connect nor authorize simplereenroll: the device must enroll afresh. */
export function credentialUsability(cert: Validity, now: number): CredentialUsability {
  if (now >= cert.notAfter) return "expired";
  if (now < cert.notBefore) return "notYetValid";
  return "valid";
}
