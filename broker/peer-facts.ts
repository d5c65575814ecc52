import type { X509Certificate } from "node:crypto";
import type { CertFacts } from "../pki/cert-info.js";
import { canonicalSerial } from "../pki/cert-info.js";
import { OID, roleFromPolicyOids } from "../pki/roles.js";

/** The certificate facts the broker's identity decision needs (a subset of CertFacts). */
export type PeerFacts = Pick<CertFacts, "serial" | "commonName" | "notBefore" | "notAfter" | "role" | "extKeyUsage" | "isCA">;

/**
 * PeerFacts from the certificate OpenSSL already parsed (node:crypto
 * X509Certificate: subject, validity, CA flag, extended key usage) plus a
 * minimal DER walk for the two things node does not expose: the exact serial
 * bytes and the certificate policy OIDs (the role). About 40x cheaper than a
 * full ASN.1 parse (enroll/cert-info.ts certFacts), which matters on the first
 * connect of every device after a restart. test/unit/identity.test.ts checks it
 * against certFacts. Throws on malformed DER.
 */
export function peerFacts(x: X509Certificate): PeerFacts {
  const { serial, policies } = walk(x.raw);
  const cns = x.subject.split("\n").filter((l) => l.startsWith("CN=")).map((l) => l.slice(3));
  return Object.freeze({
    serial: canonicalSerial(serial),
    commonName: cns.length === 1 ? cns[0] : undefined,
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
    role: roleFromPolicyOids(policies),
    extKeyUsage: internEku(x.keyUsage ?? []),
    isCA: x.ca,
  });
}

const CLIENT_AUTH_ONLY: readonly string[] = Object.freeze([OID.clientAuth]);
/** Every gateway client certificate has the same EKU list: share one array instead of one per cached certificate. */
const internEku = (eku: string[]): readonly string[] => (eku.length === 1 && eku[0] === OID.clientAuth ? CLIENT_AUTH_ONLY : Object.freeze(eku));

interface Tlv { tag: number; start: number; end: number }

/** One DER TLV at `off` (definite lengths only, as DER requires; X.690 §10.1). */
function tlv(b: Uint8Array, off: number, limit: number): Tlv {
  if (off + 2 > limit) throw new Error("truncated DER");
  const tag = b[off]!;
  let len = b[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  if (start + len > limit) throw new Error("DER length past the end");
  return { tag, start, end: start + len };
}

function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.start; off < parent.end; ) {
    const t = tlv(b, off, parent.end);
    out.push(t);
    off = t.end;
  }
  return out;
}

/** X.690 §8.19: OBJECT IDENTIFIER contents to dotted text. */
function oid(b: Uint8Array, t: Tlv): string {
  const arcs: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}

const CERTIFICATE_POLICIES = "2.5.29.32";

/** RFC 5280 §4.1: Certificate -> tbsCertificate -> serialNumber, and extensions [3] -> certificatePolicies. */
function walk(b: Uint8Array): { serial: Uint8Array; policies: string[] } {
  const cert = tlv(b, 0, b.length);
  const tbs = children(b, cert)[0];
  if (!tbs || tbs.tag !== 0x30) throw new Error("no tbsCertificate");
  const fields = children(b, tbs);
  const hasVersion = fields[0]?.tag === 0xa0;
  const serialTlv = fields[hasVersion ? 1 : 0];
  if (!serialTlv || serialTlv.tag !== 0x02) throw new Error("no serialNumber");
  const policies: string[] = [];
  const exts = fields.find((f) => f.tag === 0xa3);
  if (exts) {
    const list = children(b, exts)[0];
    for (const ext of list ? children(b, list) : []) {
      const parts = children(b, ext);
      if (parts[0]?.tag !== 0x06 || oid(b, parts[0]) !== CERTIFICATE_POLICIES) continue;
      const value = parts[parts.length - 1]!; // OCTET STRING after the optional critical BOOLEAN
      const seq = tlv(b, value.start, value.end);
      for (const info of children(b, seq)) {
        const id = children(b, info)[0];
        if (id?.tag === 0x06) policies.push(oid(b, id));
      }
    }
  }
  return { serial: b.subarray(serialTlv.start, serialTlv.end), policies };
}
