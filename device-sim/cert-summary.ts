import { fromPemAll } from "../pki/der.js";
import { certFacts } from "../pki/cert-facts.js";

/**
 * What a device needs to know of its own certificate: whom it names and when
 * it is valid (RFC 5280 §4.1), read with the gateway's one certificate-facts
 * reader (pki/cert-facts.ts: a DER walk, because a first-boot storm reads
 * thousands of freshly issued certificates and node's X509Certificate, an
 * OpenSSL parse plus string formatting, costs ~20 times more).
 */
export interface CertSummary {
  readonly cn: string | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Summarizes the first certificate of a PEM text. Throws on anything that is not a certificate. */
export function summarizeCert(pem: string): CertSummary {
  const der = fromPemAll(pem)[0];
  if (!der) throw new RangeError("no PEM certificate");
  const f = certFacts(der);
  return { cn: f.commonName, notBefore: f.notBefore, notAfter: f.notAfter };
}
