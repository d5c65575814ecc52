import crypto from "node:crypto";
import { buildCsrRaw } from "./hostile-csr.js";

/**
 * Keys under which signatures can be forged without any private key, and the
 * forged CSRs for them (issue 11 point 5). Each forgery verifies under OpenSSL
 * (test/unit/spki.test.ts and the tests that use these show it).
 */

/** RFC 8017 §9.2 EMSA-PKCS1-v1_5 encoding of SHA-256(msg) for a modulus of `k` octets. */
export function emsaPkcs1Sha256(msg: Uint8Array, k: number): Buffer {
  const digestInfo = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), crypto.createHash("sha256").update(msg).digest()]);
  return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo]);
}

/** A fresh 2048-bit RSA key with its exponent replaced by 1: the "signature" of m is EMSA(m) itself. */
export function rsaE1Key(): { spkiDer: Buffer; jwk: crypto.JsonWebKey } {
  const jwk = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const pub = crypto.createPublicKey({ key: { kty: "RSA", n: jwk.n!, e: "AQ" }, format: "jwk" });
  return { spkiDer: pub.export({ type: "spki", format: "der" }), jwk };
}

/** A CSR for cn under an e = 1 key, "signed" by anyone: s = EM verifies since s^1 = EM. */
export function forgedRsaE1Csr(cn: string, key = rsaE1Key()): Buffer {
  return buildCsrRaw({ cn, spkiDer: key.spkiDer, sigAlgOid: "1.2.840.113549.1.1.11", nullParams: true, sign: (info) => emsaPkcs1Sha256(info, 256) });
}

/** Ed25519 SPKI (RFC 8410 §4) around a raw 32-octet encoding. */
export const ed25519Spki = (a: Uint8Array) => Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), a]);
export const ED25519_IDENTITY = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
/** The identity again, non-canonically: y = p + 1, and y = 1 with the sign bit set (x = "-0"). */
export const ED25519_IDENTITY_P_PLUS_1 = Buffer.from("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "hex");
export const ED25519_IDENTITY_SIGNED = Buffer.concat([Buffer.from([1]), Buffer.alloc(30), Buffer.from([0x80])]);

/**
 * A CSR for cn under an Ed25519 public key A that is the identity point (in any
 * of its encodings): R = identity and S = 0 verify for every message, since
 * [S]B = R + [k]A reads O = O.
 */
export function forgedEd25519Csr(cn: string, a: Uint8Array = ED25519_IDENTITY): Buffer {
  return buildCsrRaw({ cn, spkiDer: ed25519Spki(a), sigAlgOid: "1.3.101.112", nullParams: false, sign: () => Buffer.concat([ED25519_IDENTITY, Buffer.alloc(32)]) });
}

/** An EC SPKI whose point is the point at infinity (the lone octet 0x00), on P-256 or on secp256k1. */
export function ecInfinitySpki(curve: "prime256v1" | "secp256k1"): Buffer {
  const curveOid = curve === "prime256v1" ? "06082a8648ce3d030107" : "06052b8104000a";
  const alg = Buffer.from(`30${(9 + curveOid.length / 2).toString(16).padStart(2, "0")}06072a8648ce3d0201${curveOid}`, "hex");
  return Buffer.concat([Buffer.from([0x30, alg.length + 4]), alg, Buffer.from("03020000", "hex")]);
}

/** A CSR around the point at infinity with an arbitrary ECDSA signature. */
export function infinityCsr(cn: string, curve: "prime256v1" | "secp256k1"): Buffer {
  return buildCsrRaw({ cn, spkiDer: ecInfinitySpki(curve), sigAlgOid: "1.2.840.10045.4.3.2", nullParams: false, sign: () => Buffer.from("3006020101020101", "hex") });
}
