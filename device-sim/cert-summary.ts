import { fromPemAll } from "../pki/der.js";
import { type Tlv, children, decodeOid, decodeString, readWhole } from "../pki/der-reader.js";

/**
 * What a device needs to know of its own certificate: whom it names and when
 * it is valid (RFC 5280 §4.1). Read by walking the DER, because a first-boot
 * storm reads thousands of freshly issued certificates and node's
 * X509Certificate (an OpenSSL parse plus string formatting) costs ~20 times more.
 */
export interface CertSummary {
  readonly cn: string | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
}

const OID_CN = "2.5.4.3";

/** UTCTime YYMMDDHHMMSSZ (years 1950-2049) or GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5). */
export function derTimeMs(tag: number, text: string): number {
  const m = tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!m) throw new RangeError(`certificate time ${JSON.stringify(text)} is not DER UTCTime/GeneralizedTime`);
  let year = Number(m[1]);
  if (tag === 0x17) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

const bad = (why: string): never => {
  throw new RangeError(why);
};

/** Summarizes the first certificate of a PEM text. Throws on anything that is not a certificate. */
export function summarizeCert(pem: string): CertSummary {
  const der = fromPemAll(pem)[0] ?? bad("no PEM certificate");
  const kids = (t: Tlv | undefined) => (t ? children(der, t) : undefined) ?? bad("not an X.509 certificate");
  const tbs = kids(readWhole(der, 0x30))[0];
  const f = kids(tbs);
  // [0] EXPLICIT version is present in v3 certificates; the fields after it are positional.
  const at = f[0]?.tag === 0xa0 ? 1 : 0;
  const validity = f[at + 3];
  const subject = f[at + 4];
  if (validity?.tag !== 0x30 || subject?.tag !== 0x30) bad("not an X.509 certificate");
  const [nb, na] = kids(validity);
  if (!nb || !na) bad("certificate validity is incomplete");
  const text = (e: Tlv) => Buffer.from(der.subarray(e.start, e.end)).toString("latin1");
  let cn: string | undefined;
  for (const rdn of kids(subject)) {
    for (const atv of kids(rdn)) {
      const [type, value] = kids(atv);
      if (type && value && decodeOid(der, type) === OID_CN) cn = decodeString(der, value);
    }
  }
  return { cn, notBefore: derTimeMs(nb!.tag, text(nb!)), notAfter: derTimeMs(na!.tag, text(na!)) };
}
