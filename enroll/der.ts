/**
 * Minimal DER framing, used only to assemble structures whose parts are
 * already DER (TBSCertificate + signature), so nothing is encoded twice.
 */
export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derTlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export const derSequence = (...parts: Uint8Array[]): Buffer => derTlv(0x30, ...parts);
export const derBitString = (bytes: Uint8Array): Buffer => derTlv(0x03, Buffer.from([0]), bytes);

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** All DER blocks with the given label, in order (for PEM bundles). */
export function fromPemAll(pem: string, label = "CERTIFICATE"): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g");
  return [...pem.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

/** Copies a Node Buffer's bytes into an exact ArrayBuffer (asn1-schema wants ArrayBuffer). */
export function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export interface DerElement {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the element. */
  readonly end: number;
}

/** Reads one TLV at `pos` (definite lengths only, as DER requires). Throws on truncation. */
export function derRead(buf: Uint8Array, pos: number): DerElement {
  if (pos + 2 > buf.length) throw new RangeError("DER: truncated");
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw new RangeError("DER: bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  if (p + len > buf.length) throw new RangeError("DER: truncated");
  return { tag, start: pos, contentStart: p, end: p + len };
}

/** The direct children of a constructed element. */
export function derChildren(buf: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const e = derRead(buf, p);
    out.push(e);
    p = e.end;
  }
  return out;
}

/** DER UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function derTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const p2 = (n: number) => String(n).padStart(2, "0");
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  return y >= 1950 && y < 2050 ? derTlv(0x17, Buffer.from(`${p2(y % 100)}${rest}`, "ascii")) : derTlv(0x18, Buffer.from(`${y}${rest}`, "ascii"));
}

/** OBJECT IDENTIFIER content encoding (X.690 §8.19). */
export function derOid(oid: string): Buffer {
  const parts = oid.split(".").map(Number);
  const bytes: number[] = [parts[0]! * 40 + parts[1]!];
  for (const v of parts.slice(2)) {
    const chunk: number[] = [];
    let x = v;
    do {
      chunk.unshift(x & 0x7f);
      x = Math.floor(x / 128);
    } while (x > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    bytes.push(...chunk);
  }
  return derTlv(0x06, Buffer.from(bytes));
}

/** Dotted text of an OBJECT IDENTIFIER's contents (X.690 §8.19). */
export function derOidText(content: Uint8Array): string {
  if (content.length === 0) throw new RangeError("DER: empty OID");
  const first = content[0]!;
  const parts: number[] = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  let v = 0;
  for (let i = 1; i < content.length; i++) {
    const b = content[i]!;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    } else if (i === content.length - 1) throw new RangeError("DER: truncated OID");
  }
  return parts.join(".");
}

/** The text of an X.520 DirectoryString / IA5String value; undefined for any other type. */
export function derStringText(tag: number, content: Buffer): string | undefined {
  switch (tag) {
    case 0x0c: return content.toString("utf8"); // UTF8String
    case 0x13: case 0x16: return content.toString("ascii"); // PrintableString, IA5String
    case 0x14: return content.toString("latin1"); // TeletexString (best effort)
    case 0x1e: { // BMPString, UCS-2 big-endian
      const le = Buffer.from(content);
      le.swap16();
      return le.toString("utf16le");
    }
    default: return undefined;
  }
}
