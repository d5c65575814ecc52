import crypto from "node:crypto";
import type { KeyFacts } from "./admission.js";
import { derChildren, derOid, derRead } from "./der.js";

/**
 * Reading a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) cheaply. OpenSSL 3's
 * generic DER decoder costs ~160 µs per key; EC and Ed25519 keys imported from
 * their raw coordinates (JWK) cost half that, and the key facts come straight
 * from the algorithm OIDs. RSA and unusual keys take the generic path.
 */
const hex = (b: Buffer) => b.toString("hex");
const EC_PUBLIC_KEY = hex(derOid("1.2.840.10045.2.1"));
const ED25519 = hex(derOid("1.3.101.112"));
const CURVES = new Map<string, { name: string; jwk?: "P-256" | "P-384"; size?: number }>([
  [hex(derOid("1.2.840.10045.3.1.7")), { name: "prime256v1", jwk: "P-256", size: 32 }],
  [hex(derOid("1.3.132.0.34")), { name: "secp384r1", jwk: "P-384", size: 48 }],
  [hex(derOid("1.2.840.10045.3.1.1")), { name: "prime192v1" }],
  [hex(derOid("1.3.132.0.10")), { name: "secp256k1" }],
  [hex(derOid("1.3.132.0.35")), { name: "secp521r1" }],
]);

export interface SpkiParts {
  /** The algorithm OID's DER, and the parameters' DER (if any). */
  readonly algOidDer: Buffer;
  readonly paramsDer: Buffer | undefined;
  /** The subjectPublicKey BIT STRING contents, without the unused-bits octet. */
  readonly keyBits: Buffer;
}

export function spkiParts(spkiDer: Buffer): SpkiParts {
  const top = derRead(spkiDer, 0);
  const [alg, bits] = derChildren(spkiDer, top);
  if (!alg || !bits || bits.tag !== 0x03 || alg.tag !== 0x30) throw new RangeError("SPKI: unexpected structure");
  const [oid, params] = derChildren(spkiDer, alg);
  if (!oid || oid.tag !== 0x06) throw new RangeError("SPKI: no algorithm");
  return {
    algOidDer: spkiDer.subarray(oid.start, oid.end),
    paramsDer: params ? spkiDer.subarray(params.start, params.end) : undefined,
    keyBits: spkiDer.subarray(bits.contentStart + 1, bits.end),
  };
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
export function spkiKeyId(spkiDer: Buffer): Buffer {
  return crypto.createHash("sha1").update(spkiParts(spkiDer).keyBits).digest();
}

export function importSpki(spkiDer: Buffer): { publicKey: crypto.KeyObject; facts: KeyFacts } {
  const p = spkiParts(spkiDer);
  const algHex = hex(p.algOidDer);
  if (algHex === EC_PUBLIC_KEY && p.paramsDer) {
    const curve = CURVES.get(hex(p.paramsDer));
    const k = p.keyBits;
    if (curve?.jwk && curve.size && k.length === 1 + 2 * curve.size && k[0] === 0x04) {
      const publicKey = crypto.createPublicKey({
        key: { kty: "EC", crv: curve.jwk, x: k.subarray(1, 1 + curve.size).toString("base64url"), y: k.subarray(1 + curve.size).toString("base64url") },
        format: "jwk",
      });
      return { publicKey, facts: { type: "ec", curve: curve.name } };
    }
  }
  if (algHex === ED25519 && p.keyBits.length === 32) {
    return { publicKey: crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: p.keyBits.toString("base64url") }, format: "jwk" }), facts: { type: "ed25519" } };
  }
  const publicKey = crypto.createPublicKey({ key: spkiDer, format: "der", type: "spki" });
  const d = publicKey.asymmetricKeyDetails ?? {};
  return {
    publicKey,
    facts: { type: publicKey.asymmetricKeyType ?? "unknown", ...(d.namedCurve ? { curve: d.namedCurve } : {}), ...(d.modulusLength ? { bits: d.modulusLength } : {}) },
  };
}
