import { derSequence, derTlv } from "./der.js";
import { children, readWhole } from "./der-reader.js";

export { cnNameDer } from "./names.js";

/**
 * Direct DER encoders for the parts of a certificate that change with every
 * issuance (validity, subject key identifier), byte for byte what
 * @peculiar/asn1-x509 produces (test/unit/cert-der.test.ts checks it), at a
 * fraction of the cost: issuance runs once per enrollment.
 */
const OID_SKI = Buffer.from("0603551d0e", "hex"); // 2.5.29.14

const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, always Z. */
export function timeDer(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return y > 2049 ? derTlv(0x18, Buffer.from(`${y}${rest}`, "latin1")) : derTlv(0x17, Buffer.from(`${two(y % 100)}${rest}`, "latin1"));
}

export function validityDer(notBefore: Date, notAfter: Date): Buffer {
  return derSequence(timeDer(notBefore), timeDer(notAfter));
}

/** SubjectKeyIdentifier extension (RFC 5280 §4.2.1.2), non-critical. */
export function skiExtensionDer(ski: Uint8Array): Buffer {
  return derSequence(OID_SKI, derTlv(0x04, derTlv(0x04, ski)));
}

/** The subjectPublicKey BIT STRING's key octets of a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). */
export function spkiKeyBits(spkiDer: Uint8Array): Uint8Array {
  const spki = readWhole(spkiDer, 0x30);
  const parts = spki && children(spkiDer, spki);
  const bits = parts?.length === 2 && parts[0]!.tag === 0x30 && parts[1]!.tag === 0x03 ? parts[1] : undefined;
  if (!bits || bits.end - bits.start < 2 || spkiDer[bits.start] !== 0) throw new Error("not a DER SubjectPublicKeyInfo");
  return spkiDer.subarray(bits.start + 1, bits.end);
}
