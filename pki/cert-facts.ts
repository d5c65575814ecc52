import { type Tlv, children, decodeOid, decodeString, readWhole } from "./der-reader.js";
import { OID, type Role, roleFromPolicyOids } from "./roles.js";

/**
 * The one reading of facts out of an X.509 certificate (RFC 5280 §4.1), for
 * every caller: the MQTT and HTTPS peer classification (peer.ts), enrollment
 * (re-enrollment compares subjects), and the simulator (its own certificate's
 * name and validity). It walks the DER with the strict reader (der-reader.ts):
 * definite minimal lengths, every constructed value exactly tiled, so a
 * certificate OpenSSL tolerated but that is not DER is refused here. About 40x
 * cheaper than a generic ASN.1 parse, which matters on the first connect of
 * every device after a restart and when a first-boot storm reads thousands of
 * freshly issued certificates. Throws on anything that is not a certificate.
 * test/unit/cert-facts.test.ts checks it against @peculiar/asn1-x509.
 */
export interface CertFacts {
  /** Lowercase hex, no leading zero byte: the registry's key. */
  readonly serial: string;
  readonly subject: ReadonlyArray<{ readonly type: string; readonly value: string }>;
  /** The CN when the subject holds exactly one. */
  readonly commonName: string | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
  /** The single role policy (roles.ts), or undefined for none or several. */
  readonly role: Role | undefined;
  readonly extKeyUsage: readonly string[];
  readonly isCA: boolean;
}

/** Canonical serial text: lowercase hex without leading zero bytes (what Node's getPeerCertificate gives, lowercased). */
export function canonicalSerial(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return Buffer.from(bytes.subarray(i)).toString("hex");
}

const bad = (why: string): never => {
  throw new RangeError(why);
};

/** UTCTime YYMMDDHHMMSSZ (years 1950-2049) or GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1, §4.1.2.5.2). */
export function derTimeMs(tag: number, text: string): number {
  const m = tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!m) throw new RangeError(`certificate time ${JSON.stringify(text)} is not DER UTCTime/GeneralizedTime`);
  let year = Number(m[1]);
  if (tag === 0x17) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

const CERTIFICATE_POLICIES = "2.5.29.32";
const EXT_KEY_USAGE = "2.5.29.37";
const BASIC_CONSTRAINTS = "2.5.29.19";

const CLIENT_AUTH_ONLY: readonly string[] = Object.freeze([OID.clientAuth]);
/** Every gateway client certificate has the same EKU list: share one array instead of one per cached certificate. */
const internEku = (eku: string[]): readonly string[] => (eku.length === 1 && eku[0] === OID.clientAuth ? CLIENT_AUTH_ONLY : Object.freeze(eku));

export function certFacts(der: Uint8Array): CertFacts {
  const kids = (t: Tlv | undefined, tag = 0x30): Tlv[] => (t && t.tag === tag ? children(der, t) : undefined) ?? bad("not a DER X.509 certificate");
  const oid = (t: Tlv | undefined): string => (t && decodeOid(der, t)) ?? bad("bad OBJECT IDENTIFIER");
  const top = kids(readWhole(der, 0x30));
  if (top.length !== 3) bad("not a DER X.509 certificate");
  const f = kids(top[0]);
  // [0] EXPLICIT version is present in v3 certificates; the fields after it are positional.
  const at = f[0]?.tag === 0xa0 ? 1 : 0;
  const serial = f[at];
  if (serial?.tag !== 0x02 || serial.end === serial.start) bad("no serialNumber");
  const [nb, na, more] = kids(f[at + 3]);
  if (!nb || !na || more) bad("certificate validity is malformed");
  const time = (t: Tlv) => derTimeMs(t.tag, Buffer.from(der.subarray(t.start, t.end)).toString("latin1"));

  const subject: { type: string; value: string }[] = [];
  for (const rdn of kids(f[at + 4])) {
    const atvs = kids(rdn, 0x31);
    if (atvs.length === 0) bad("empty RDN");
    for (const atv of atvs) {
      const parts = kids(atv);
      if (parts.length !== 2) bad("bad AttributeTypeAndValue");
      subject.push({ type: oid(parts[0]), value: decodeString(der, parts[1]!) ?? bad("bad attribute value") });
    }
  }

  let policies: string[] = [];
  let eku: string[] = [];
  let isCA = false;
  const exts = f.find((t) => t.tag === 0xa3);
  if (exts) {
    const [list, extra] = kids(exts, 0xa3);
    if (extra) bad("bad extensions");
    for (const ext of kids(list)) {
      const parts = kids(ext);
      const value = parts[parts.length - 1];
      // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
      if (parts.length < 2 || parts.length > 3 || value?.tag !== 0x04) bad("bad Extension");
      const id = oid(parts[0]);
      if (id !== CERTIFICATE_POLICIES && id !== EXT_KEY_USAGE && id !== BASIC_CONSTRAINTS) continue;
      const inner = kids(readWhole(der, 0x30, value!.start, value!.end));
      if (id === CERTIFICATE_POLICIES) policies = inner.map((info) => oid(kids(info)[0]));
      else if (id === EXT_KEY_USAGE) eku = inner.map((t) => oid(t));
      // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
      else isCA = inner[0]?.tag === 0x01 && inner[0].end - inner[0].start === 1 && der[inner[0].start] !== 0;
    }
  }
  const cn = subject.filter((a) => a.type === OID.commonName);
  return Object.freeze({
    serial: canonicalSerial(der.subarray(serial!.start, serial!.end)),
    subject: Object.freeze(subject),
    commonName: cn.length === 1 ? cn[0]!.value : undefined,
    notBefore: time(nb!),
    notAfter: time(na!),
    role: roleFromPolicyOids(policies),
    extKeyUsage: internEku(eku),
    isCA,
  });
}

