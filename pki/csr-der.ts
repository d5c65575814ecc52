import { children, decodeOid, decodeString, readTlv, readWhole } from "./der-reader.js";

/**
 * The parts of a PKCS#10 request (RFC 2986 §4) that enrollment needs, read
 * with the strict DER reader. The generic ASN.1 parser took longer than the
 * TLS handshake the request rides on, and it tolerated framing errors outside
 * the signed bytes (a wrong outer tag, lengths that do not add up, unused bits
 * in the signature): none of that weakens proof of possession, but such a
 * request is malformed and is refused as such.
 *
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE { version INTEGER (0), subject Name, subjectPKInfo, attributes [0] }
 */
export interface CsrParts {
  /** The CertificationRequestInfo exactly as received: what the signature covers. */
  readonly infoDer: Uint8Array;
  readonly subject: ReadonlyArray<{ readonly type: string; readonly value: string }>;
  /** DER SubjectPublicKeyInfo, as received. */
  readonly spkiDer: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
}

const SEQ = 0x30;
const SET = 0x31;

/** Name ::= SEQUENCE OF RelativeDistinguishedName (SET SIZE (1..MAX) OF AttributeTypeAndValue), RFC 5280 §4.1.2.4. */
function readName(b: Uint8Array, at: number, limit: number): { subject: CsrParts["subject"]; end: number } | undefined {
  const name = readTlv(b, at, limit);
  if (!name || name.tag !== SEQ) return undefined;
  const rdns = children(b, name);
  if (!rdns) return undefined;
  const subject: { type: string; value: string }[] = [];
  for (const rdn of rdns) {
    const atvs = rdn.tag === SET ? children(b, rdn) : undefined;
    if (!atvs || atvs.length === 0) return undefined;
    for (const atv of atvs) {
      const parts = atv.tag === SEQ ? children(b, atv) : undefined;
      if (!parts || parts.length !== 2) return undefined;
      const type = decodeOid(b, parts[0]!);
      const value = decodeString(b, parts[1]!);
      if (type === undefined || value === undefined) return undefined;
      subject.push({ type, value });
    }
  }
  return { subject, end: name.end };
}

/** Returns undefined for anything that is not a DER-encoded PKCS#10 request. */
export function readCsr(b: Uint8Array): CsrParts | undefined {
  const outer = readWhole(b, SEQ);
  const top = outer && children(b, outer);
  if (!top || top.length !== 3) return undefined;
  const [info, alg, sig] = top as [typeof top[0], typeof top[0], typeof top[0]];
  if (info.tag !== SEQ || alg.tag !== SEQ || sig.tag !== 0x03) return undefined;

  // version INTEGER 0 (v1), the only version RFC 2986 defines.
  const version = readTlv(b, info.start, info.end);
  if (!version || version.tag !== 0x02 || version.end - version.start !== 1 || b[version.start] !== 0) return undefined;
  const name = readName(b, version.end, info.end);
  if (!name) return undefined;
  const spki = readTlv(b, name.end, info.end);
  if (!spki || spki.tag !== SEQ) return undefined;
  // attributes [0] IMPLICIT SET OF Attribute; tolerated when absent (some clients omit an empty set).
  if (spki.end < info.end) {
    const attrs = readTlv(b, spki.end, info.end);
    const list = attrs && attrs.tag === 0xa0 && attrs.end === info.end ? children(b, attrs) : undefined;
    if (!list || list.some((a) => a.tag !== SEQ)) return undefined;
  }

  // AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
  const algParts = children(b, alg);
  const algOid = algParts && algParts.length >= 1 && algParts.length <= 2 ? decodeOid(b, algParts[0]!) : undefined;
  if (algOid === undefined) return undefined;
  // BIT STRING: the first content octet counts unused bits; a signature has none.
  if (sig.end - sig.start < 2 || b[sig.start] !== 0) return undefined;

  return {
    infoDer: b.subarray(info.at, info.end),
    subject: name.subject,
    spkiDer: b.subarray(spki.at, spki.end),
    signatureAlgorithm: algOid,
    signature: b.subarray(sig.start + 1, sig.end),
  };
}
