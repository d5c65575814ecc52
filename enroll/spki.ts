import crypto from "node:crypto";
import type { KeyFacts } from "./admission.js";
import { children, decodeOid, readWhole } from "./der-reader.js";

/**
 * Imports a CSR's SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) and states what
 * kind of key it is. OpenSSL 3's DER decoder and its key-details query are the
 * two slowest steps of an enrollment, so the common case, an uncompressed
 * P-256 point (RFC 5480 §2), is imported as a JWK from its coordinates (the
 * import checks the point is on the curve), and an EC key's curve is read from
 * the namedCurve OID it was built from. Everything else takes the generic path.
 * Throws when the key is unusable.
 */
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const EC_CURVES: Readonly<Record<string, { readonly name: string; readonly jwk?: string; readonly size: number }>> = {
  "1.2.840.10045.3.1.7": { name: "prime256v1", jwk: "P-256", size: 32 },
  "1.3.132.0.34": { name: "secp384r1", jwk: "P-384", size: 48 },
};

function genericFacts(k: crypto.KeyObject): KeyFacts {
  const d = k.asymmetricKeyDetails ?? {};
  return {
    type: k.asymmetricKeyType ?? "unknown",
    ...(d.namedCurve ? { curve: d.namedCurve } : {}),
    ...(d.modulusLength ? { bits: d.modulusLength } : {}),
  };
}

/** The named curve of an id-ecPublicKey SPKI, and its uncompressed point, when it is that shape. */
function ecShape(spkiDer: Uint8Array): { curve: (typeof EC_CURVES)[string]; point?: Uint8Array } | undefined {
  const spki = readWhole(spkiDer, 0x30);
  const top = spki && children(spkiDer, spki);
  if (!top || top.length !== 2) return undefined;
  const [alg, bits] = top as [typeof top[0], typeof top[0]];
  const params = alg.tag === 0x30 ? children(spkiDer, alg) : undefined;
  if (!params || params.length !== 2 || bits.tag !== 0x03) return undefined;
  if (decodeOid(spkiDer, params[0]!) !== OID_EC_PUBLIC_KEY) return undefined;
  const curve = EC_CURVES[decodeOid(spkiDer, params[1]!) ?? ""];
  if (!curve) return undefined;
  const point = spkiDer.subarray(bits.start + 1, bits.end);
  const uncompressed = spkiDer[bits.start] === 0 && point.length === 1 + 2 * curve.size && point[0] === 0x04;
  return uncompressed ? { curve, point } : { curve };
}

export function importSpki(spkiDer: Buffer): { key: crypto.KeyObject; facts: KeyFacts } {
  const ec = ecShape(spkiDer);
  if (ec?.curve.jwk && ec.point) {
    const n = ec.curve.size;
    const b64url = (from: number) => Buffer.from(ec.point!.subarray(from, from + n)).toString("base64url");
    const key = crypto.createPublicKey({ key: { kty: "EC", crv: ec.curve.jwk, x: b64url(1), y: b64url(1 + n) }, format: "jwk" });
    return { key, facts: { type: "ec", curve: ec.curve.name } };
  }
  const key = crypto.createPublicKey({ key: spkiDer, format: "der", type: "spki" });
  if (ec && key.asymmetricKeyType === "ec") return { key, facts: { type: "ec", curve: ec.curve.name } };
  return { key, facts: genericFacts(key) };
}
