import type crypto from "node:crypto";

/**
 * RFC 5280 §6.1.3 (a)(1): `x` was issued by `issuer` when its signature verifies
 * under the issuer's public key. The issuer name and authority key identifier
 * (X509_check_issued) are only a pre-filter: anybody can copy them into a
 * self-made certificate.
 */
export function signedBy(x: crypto.X509Certificate, issuer: crypto.X509Certificate): boolean {
  try {
    return x.checkIssued(issuer) && x.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Lowercase hex SHA-256 of the certificate's DER, from the digest OpenSSL already computed. */
export const certFingerprint = (x: crypto.X509Certificate): string => x.fingerprint256.replace(/:/g, "").toLowerCase();
