import crypto from "node:crypto";

/** SHA-256 of a DER SubjectPublicKeyInfo, lowercase hex: the registry's key fingerprint (one public key, one identity). */
export function spkiSha256(spkiDer: Uint8Array): string {
  return crypto.createHash("sha256").update(spkiDer).digest("hex");
}

/** The same fingerprint from a PEM certificate; null when the PEM is not a certificate. */
export function spkiSha256OfCertPem(pem: string): string | null {
  try {
    return spkiSha256(new crypto.X509Certificate(pem).publicKey.export({ type: "spki", format: "der" }));
  } catch {
    return null;
  }
}
