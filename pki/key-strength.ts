import crypto from "node:crypto";
import { type KeyFacts, certificateSpki, spkiFacts } from "./spki.js";

/**
 * Public keys whose signatures prove nothing. A CSR's signature is its proof of
 * possession (RFC 2986 §3, RFC 7030 §3.4), and a client certificate's key signs
 * the TLS handshake; both only mean something when forging a signature needs
 * the private key. Pure: the key's encoded facts in, a reason or undefined out.
 * Table-tested in test/unit/key-strength.test.ts.
 *
 * - RSA with e = 1 makes the signature equal to the padded hash (s^1 = EM), and
 *   any small or even exponent is outside FIPS 186-5 §5.4 / SP 800-56B §6.2.1
 *   (65537 <= e < 2^256, e odd). An even modulus is not a product of two odd
 *   primes. The exponent bound also keeps a verification cheap.
 * - EC points must be on the curve (checked by OpenSSL when the key is imported:
 *   test/unit/spki.test.ts proves it), given as an uncompressed or compressed
 *   SEC1 point (SEC 1 §2.3.3) whose coordinates are below the field prime, and
 *   never the point at infinity (a lone 0x00). P-256 and P-384 have cofactor 1,
 *   so no other point has small order.
 * - Ed25519 (RFC 8032 §5.1.3): an encoding must be canonical (y < p) and not one
 *   of the points of order 1, 2, 4 or 8: under those, R = A and S = 0 (among
 *   others) verify for every message. The list is libsodium's has_small_order
 *   table, compared with the sign bit masked, so every encoding of a small-order
 *   point is caught.
 */
export const RSA_MIN_EXPONENT = 65537n;
export const RSA_EXPONENT_LIMIT = 1n << 256n;

/** Field primes of the accepted curves, big-endian, by OpenSSL curve name. */
const FIELD_PRIMES: Readonly<Record<string, Buffer>> = {
  prime256v1: Buffer.from("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", "hex"),
  secp384r1: Buffer.from("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff", "hex"),
};

/** Little-endian encodings (sign bit cleared) of the small-order points of edwards25519 and their non-canonical twins. */
export const ED25519_SMALL_ORDER: readonly Buffer[] = [
  "0000000000000000000000000000000000000000000000000000000000000000", // y = 0, order 4
  "0100000000000000000000000000000000000000000000000000000000000000", // y = 1, the identity
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p - 1, order 2
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p (non-canonical 0), order 4
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p + 1 (non-canonical 1), order 1
].map((h) => Buffer.from(h, "hex"));

/** 2^255 - 19, little-endian. */
const ED25519_P_LE = Buffer.from("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "hex");

/** a < b for equal-length big-endian byte strings. */
function lessThan(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) < 0;
}

function ecWeakness(k: KeyFacts): string | undefined {
  const pt = k.point;
  if (!pt || pt.length === 0) return "EC public key has no point";
  if (pt.length === 1 && pt[0] === 0x00) return "EC public key is the point at infinity";
  const prime = k.curve ? FIELD_PRIMES[k.curve] : undefined;
  const tag = pt[0]!;
  if (!prime) {
    // Curves we do not accept: only the encoding is judged here, so that the point at infinity or
    // a hybrid form never reaches the key import; the curve itself is refused by admitKey.
    return tag === 0x04 || tag === 0x02 || tag === 0x03 ? undefined : "EC point encoding is neither uncompressed nor compressed";
  }
  const n = prime.length;
  if (tag === 0x04 && pt.length === 1 + 2 * n) {
    if (!lessThan(pt.subarray(1, 1 + n), prime) || !lessThan(pt.subarray(1 + n), prime)) return "EC point coordinate is not below the field prime";
    return undefined;
  }
  if ((tag === 0x02 || tag === 0x03) && pt.length === 1 + n) {
    return lessThan(pt.subarray(1), prime) ? undefined : "EC point coordinate is not below the field prime";
  }
  return "EC point encoding is neither uncompressed nor compressed, or has the wrong length";
}

function ed25519Weakness(k: KeyFacts): string | undefined {
  const a = k.point;
  if (!a || a.length !== 32) return "Ed25519 public key is not 32 octets";
  const masked = Buffer.from(a);
  masked[31]! &= 0x7f;
  for (const bad of ED25519_SMALL_ORDER) if (masked.equals(bad)) return "Ed25519 public key is a point of small order";
  // Little-endian y < p: compare from the most significant octet.
  for (let i = 31; i >= 0; i--) {
    if (masked[i]! !== ED25519_P_LE[i]!) return masked[i]! < ED25519_P_LE[i]! ? undefined : "Ed25519 public key is not canonically encoded (y >= p)";
  }
  return "Ed25519 public key is not canonically encoded (y >= p)";
}

function rsaWeakness(k: KeyFacts): string | undefined {
  const e = k.exponent;
  if (e === undefined) return "RSA public exponent is unknown";
  if (e < RSA_MIN_EXPONENT || e >= RSA_EXPONENT_LIMIT || (e & 1n) === 0n) return `RSA public exponent ${e < RSA_EXPONENT_LIMIT ? e.toString() : "of more than 256 bits"} is not accepted (odd, 65537 or more, under 2^256)`;
  if (k.modulusOdd !== true) return "RSA modulus is even";
  return undefined;
}

/** Why signatures under this key would prove nothing, or undefined for a sound key. Key types not listed here are left to admitKey. */
export function keyWeakness(k: KeyFacts): string | undefined {
  switch (k.type) {
    case "rsa": return rsaWeakness(k);
    case "ec": return ecWeakness(k);
    case "ed25519": return ed25519Weakness(k);
    default: return undefined;
  }
}

/**
 * The same judgement on a client certificate's key, for the TLS edges: a
 * certificate issued before keys were judged (or by a manufacturer CA that does
 * not judge them) authenticates nothing when its key is degenerate, because
 * TLS client authentication is a signature under that key (RFC 8446 §4.4.3).
 * Key types this module does not know are left alone (undefined).
 */
export function certificateKeyWeakness(certDer: Uint8Array): string | undefined {
  // The strict DER walk first; OpenSSL's own reading for a certificate it accepted with looser framing.
  const spki = certificateSpki(certDer) ?? opensslSpki(certDer);
  if (!spki) return "certificate has no readable public key";
  const facts = spkiFacts(spki);
  return facts && keyWeakness(facts);
}

function opensslSpki(certDer: Uint8Array): Uint8Array | undefined {
  try {
    return new crypto.X509Certificate(certDer).publicKey.export({ type: "spki", format: "der" });
  } catch {
    return undefined;
  }
}
