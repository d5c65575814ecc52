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

/** base64 with a line break after every 64 characters (RFC 7468 §2), as PEM and EST bodies carry it. */
export function base64Lines(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  let out = "";
  for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`;
  return out;
}

export function toPem(der: Uint8Array, label: string): string {
  return `-----BEGIN ${label}-----\n${base64Lines(der)}-----END ${label}-----\n`;
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
