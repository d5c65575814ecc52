import crypto from "node:crypto";
import { children, decodeOid, readTlv, readWhole, type Tlv } from "./der-reader.js";

/**
 * Reads and imports a CSR's SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
 *
 * spkiFacts() states what kind of key it is from the DER alone, with the key
 * material the strength policy (key-strength.ts) judges: the RSA exponent and
 * the modulus' parity, the EC point, the Ed25519 encoding. It never asks
 * OpenSSL: node's key-details query aborts the whole process on an EC key whose
 * point is the point at infinity, and OpenSSL happily imports one.
 *
 * importSpki() then imports the key. OpenSSL 3's DER decoder is one of the two
 * slowest steps of an enrollment, so the common case, an uncompressed P-256 or
 * P-384 point (RFC 5480 §2), is imported as a JWK from its coordinates; both
 * imports check that the point is on the curve (test/unit/spki.test.ts).
 * Everything else takes the generic path. Throws when the key is unusable.
 */
/** What kind of public key it is, with the material key-strength.ts judges. */
export interface KeyFacts {
  readonly type: string;
  /** OpenSSL curve name for EC keys (prime256v1, secp384r1, ...). */
  readonly curve?: string;
  readonly bits?: number;
  /** RSA public exponent. */
  readonly exponent?: bigint;
  /** RSA: whether the modulus is odd. */
  readonly modulusOdd?: boolean;
  /** EC: the SEC1 point octets (RFC 5480 §2.2); Ed25519: the 32-octet encoding (RFC 8032 §5.1.2). */
  readonly point?: Uint8Array;
}

const OID_RSA = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_ED25519 = "1.3.101.112";
/** namedCurve OIDs (RFC 5480 §2.1.1.1) to OpenSSL names; all but the first two are refused by admission, named for the reason. */
const EC_CURVES: Readonly<Record<string, string>> = {
  "1.2.840.10045.3.1.7": "prime256v1",
  "1.3.132.0.34": "secp384r1",
  "1.2.840.10045.3.1.1": "prime192v1",
  "1.3.132.0.33": "secp224r1",
  "1.3.132.0.10": "secp256k1",
  "1.3.132.0.35": "secp521r1",
};

/** A non-negative DER INTEGER's content (X.690 §8.3), leading zero octets dropped. */
function unsigned(b: Uint8Array, t: Tlv): Uint8Array | undefined {
  if (t.tag !== 0x02 || t.end === t.start || (b[t.start]! & 0x80) !== 0) return undefined;
  let i = t.start;
  while (i < t.end - 1 && b[i] === 0) i++;
  return b.subarray(i, t.end);
}

const bitLength = (v: Uint8Array) => (v.length === 0 ? 0 : (v.length - 1) * 8 + (32 - Math.clz32(v[0]!)));

/** RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 §A.1.1). */
function rsaFacts(b: Uint8Array): KeyFacts | undefined {
  const seq = readWhole(b, 0x30);
  const ints = seq && children(b, seq);
  if (!ints || ints.length !== 2) return undefined;
  const n = unsigned(b, ints[0]!);
  const e = unsigned(b, ints[1]!);
  if (!n || !e) return undefined;
  return { type: "rsa", bits: bitLength(n), exponent: BigInt(`0x${Buffer.from(e).toString("hex")}`), modulusOdd: (n[n.length - 1]! & 1) === 1 };
}

/** The key's facts from its encoding alone; undefined for key types (or shapes) left to OpenSSL's decoder. */
export function spkiFacts(spkiDer: Uint8Array): KeyFacts | undefined {
  const spki = readWhole(spkiDer, 0x30);
  const top = spki && children(spkiDer, spki);
  if (!top || top.length !== 2) return undefined;
  const [alg, bits] = top as [Tlv, Tlv];
  const params = alg.tag === 0x30 ? children(spkiDer, alg) : undefined;
  // BIT STRING with no unused bits: every key format here is whole octets.
  if (!params || params.length < 1 || bits.tag !== 0x03 || bits.end === bits.start || spkiDer[bits.start] !== 0) return undefined;
  const key = spkiDer.subarray(bits.start + 1, bits.end);
  switch (decodeOid(spkiDer, params[0]!)) {
    case OID_RSA:
      return rsaFacts(key);
    case OID_EC_PUBLIC_KEY: {
      if (params.length !== 2) return undefined;
      const p = params[1]!;
      const oid = p.tag === 0x06 ? decodeOid(spkiDer, p) : undefined;
      const curve = oid === undefined ? "explicit or implicit parameters" : (EC_CURVES[oid] ?? oid);
      return { type: "ec", curve, point: key };
    }
    case OID_ED25519:
      return params.length === 1 ? { type: "ed25519", point: key } : undefined;
    default:
      return undefined;
  }
}

function genericFacts(k: crypto.KeyObject): KeyFacts {
  // Only RSA keys reach here with details worth asking for; EC keys never do (see above).
  const t = k.asymmetricKeyType ?? "unknown";
  const d = t === "rsa" ? (k.asymmetricKeyDetails ?? {}) : {};
  return { type: t, ...(d.modulusLength ? { bits: d.modulusLength } : {}) };
}

const JWK_CURVES: Readonly<Record<string, { readonly jwk: string; readonly size: number }>> = {
  prime256v1: { jwk: "P-256", size: 32 },
  secp384r1: { jwk: "P-384", size: 48 },
};

/**
 * Imports the key. `shape` is spkiFacts(spkiDer) when the caller already has it.
 * Must only be called once keyWeakness(shape) has passed (the point at infinity
 * is imported by OpenSSL without complaint, and is no key).
 */
export function importSpki(spkiDer: Buffer, shape: KeyFacts | undefined = spkiFacts(spkiDer)): { key: crypto.KeyObject; facts: KeyFacts } {
  const jwk = shape?.type === "ec" && shape.curve ? JWK_CURVES[shape.curve] : undefined;
  const pt = shape?.point;
  if (jwk && pt && pt.length === 1 + 2 * jwk.size && pt[0] === 0x04) {
    const n = jwk.size;
    const b64url = (from: number) => Buffer.from(pt.subarray(from, from + n)).toString("base64url");
    const key = crypto.createPublicKey({ key: { kty: "EC", crv: jwk.jwk, x: b64url(1), y: b64url(1 + n) }, format: "jwk" });
    return { key, facts: shape! };
  }
  const key = crypto.createPublicKey({ key: spkiDer, format: "der", type: "spki" });
  if (shape && key.asymmetricKeyType === shape.type) return { key, facts: shape };
  return { key, facts: genericFacts(key) };
}

/**
 * The SubjectPublicKeyInfo of a DER certificate (RFC 5280 §4.1: tbsCertificate
 * = [0] version, serialNumber, signature, issuer, validity, subject,
 * subjectPublicKeyInfo, ...), or undefined when the DER is not that shape.
 */
export function certificateSpki(certDer: Uint8Array): Uint8Array | undefined {
  const cert = readWhole(certDer, 0x30);
  const tbs = cert && readTlv(certDer, cert.start, cert.end);
  const fields = tbs && tbs.tag === 0x30 ? children(certDer, tbs) : undefined;
  if (!fields) return undefined;
  const spki = fields[fields[0]?.tag === 0xa0 ? 6 : 5];
  return spki && spki.tag === 0x30 ? certDer.subarray(spki.at, spki.end) : undefined;
}
