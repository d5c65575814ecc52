/**
 * A minimal, strict DER reader (X.690 §8 and §10): definite, minimal lengths,
 * low tag numbers only. Used where the generic ASN.1 parser is too slow or too
 * lenient (the CSR on every enrollment, the SPKI on every issuance). Every
 * function returns undefined on anything that is not well-formed DER, never
 * throws, and never reads outside the given bounds.
 */
export interface Tlv {
  readonly tag: number;
  /** Offset of the tag octet. */
  readonly at: number;
  /** Offset of the first content octet. */
  readonly start: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** Largest length accepted: 3 length octets (16 MiB), far above anything EST handles. */
const MAX_LEN_OCTETS = 3;

export function readTlv(b: Uint8Array, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined;
  const tag = b[at]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // high tag numbers never occur here
  let len = b[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    // n === 0 is the indefinite form (BER only); a leading zero octet or a long form for < 128 is not minimal (X.690 §10.1).
    if (n === 0 || n > MAX_LEN_OCTETS || start + n > limit || b[start] === 0) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    if (len < 0x80) return undefined;
    start += n;
  }
  const end = start + len;
  return end <= limit ? { tag, at, start, end } : undefined;
}

/** The one TLV that spans exactly [at, limit), or undefined. */
export function readWhole(b: Uint8Array, tag: number, at = 0, limit = b.length): Tlv | undefined {
  const t = readTlv(b, at, limit);
  return t && t.tag === tag && t.end === limit ? t : undefined;
}

/** The TLVs that exactly tile a constructed TLV's content, or undefined. */
export function children(b: Uint8Array, parent: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const t = readTlv(b, at, parent.end);
    if (!t) return undefined;
    out.push(t);
    at = t.end;
  }
  return out;
}

/** OBJECT IDENTIFIER content octets to dotted text (X.690 §8.19), undefined when not minimal or truncated. */
export function decodeOid(b: Uint8Array, t: Tlv): string | undefined {
  if (t.tag !== 0x06 || t.end === t.start) return undefined;
  const arcs: number[] = [];
  let v = 0;
  let fresh = true;
  for (let i = t.start; i < t.end; i++) {
    const byte = b[i]!;
    if (fresh && byte === 0x80) return undefined; // leading 0x80: not minimal
    if (v > 2 ** 45) return undefined;
    v = v * 128 + (byte & 0x7f);
    fresh = (byte & 0x80) === 0;
    if (fresh) {
      if (arcs.length === 0) arcs.push(v < 40 ? 0 : v < 80 ? 1 : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return fresh ? arcs.join(".") : undefined;
}

function utf16be(c: Uint8Array): string | undefined {
  if (c.length % 2) return undefined;
  let s = "";
  for (let i = 0; i < c.length; i += 2) s += String.fromCharCode((c[i]! << 8) | c[i + 1]!);
  return s;
}

function utf32be(c: Uint8Array): string | undefined {
  if (c.length % 4) return undefined;
  let s = "";
  for (let i = 0; i < c.length; i += 4) {
    const cp = ((c[i]! << 24) | (c[i + 1]! << 16) | (c[i + 2]! << 8) | c[i + 3]!) >>> 0;
    if (cp > 0x10ffff) return undefined;
    s += String.fromCodePoint(cp);
  }
  return s;
}

/**
 * A DirectoryString-like attribute value as text: UTF8String, PrintableString,
 * IA5String, TeletexString (octets as Latin-1), BMPString (UTF-16BE) and
 * UniversalString (UTF-32BE), as @peculiar/asn1-x509's AttributeValue reads
 * them; any other type becomes the hex of its encoding, which can never be a
 * valid device id. Undefined when a BMP/Universal string has a broken length.
 */
export function decodeString(b: Uint8Array, t: Tlv): string | undefined {
  const c = b.subarray(t.start, t.end);
  switch (t.tag) {
    case 0x0c: return Buffer.from(c).toString("utf8");
    case 0x13: case 0x16: case 0x14: return Buffer.from(c).toString("latin1");
    case 0x1e: return utf16be(c);
    case 0x1c: return utf32be(c);
    default: return Buffer.from(b.subarray(t.at, t.end)).toString("hex");
  }
}
