import crypto from "node:crypto";

/** Signature algorithms accepted on CSRs and used by the CA, keyed by OID. */
export interface SigAlg {
  readonly oid: string;
  /** node:crypto digest name; null for Ed25519 (pure EdDSA). */
  readonly hash: string | null;
  readonly keyType: "ec" | "rsa" | "ed25519";
  /** RFC 4055 §5: the RSA PKCS#1 v1.5 identifiers carry NULL parameters; ECDSA and EdDSA carry none (RFC 5758 §3.2, RFC 8410 §3). */
  readonly nullParams: boolean;
}

export const SIG_ALGS: Readonly<Record<string, SigAlg>> = Object.freeze({
  "1.2.840.10045.4.3.2": { oid: "1.2.840.10045.4.3.2", hash: "sha256", keyType: "ec", nullParams: false },
  "1.2.840.10045.4.3.3": { oid: "1.2.840.10045.4.3.3", hash: "sha384", keyType: "ec", nullParams: false },
  "1.2.840.10045.4.3.4": { oid: "1.2.840.10045.4.3.4", hash: "sha512", keyType: "ec", nullParams: false },
  "1.2.840.113549.1.1.11": { oid: "1.2.840.113549.1.1.11", hash: "sha256", keyType: "rsa", nullParams: true },
  "1.2.840.113549.1.1.12": { oid: "1.2.840.113549.1.1.12", hash: "sha384", keyType: "rsa", nullParams: true },
  "1.2.840.113549.1.1.13": { oid: "1.2.840.113549.1.1.13", hash: "sha512", keyType: "rsa", nullParams: true },
  "1.3.101.112": { oid: "1.3.101.112", hash: null, keyType: "ed25519", nullParams: false },
});

/** The algorithm a key of this kind signs with (ECDSA uses the hash matching its curve, RFC 5480 §4). */
export function sigAlgFor(key: crypto.KeyObject): SigAlg {
  const t = key.asymmetricKeyType;
  if (t === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return SIG_ALGS[curve === "secp384r1" ? "1.2.840.10045.4.3.3" : curve === "secp521r1" ? "1.2.840.10045.4.3.4" : "1.2.840.10045.4.3.2"]!;
  }
  if (t === "rsa") return SIG_ALGS["1.2.840.113549.1.1.11"]!;
  if (t === "ed25519") return SIG_ALGS["1.3.101.112"]!;
  throw new Error(`unsupported key type ${t}`);
}

/** Signs with node:crypto directly: far cheaper than WebCrypto for many small signatures. */
export function signBytes(alg: SigAlg, key: crypto.KeyObject, data: Uint8Array): Buffer {
  return crypto.sign(alg.hash, data, alg.keyType === "ec" ? { key, dsaEncoding: "der" } : key);
}

export function verifyBytes(alg: SigAlg, key: crypto.KeyObject, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    return crypto.verify(alg.hash, data, alg.keyType === "ec" ? { key, dsaEncoding: "der" } : key, sig);
  } catch {
    return false;
  }
}

export const CURVES = { "P-256": "prime256v1", "P-384": "secp384r1" } as const;
