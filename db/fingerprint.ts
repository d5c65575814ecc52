import crypto from "node:crypto";
import type { CertificateRow } from "./types.js";

/** SHA-256 (lowercase hex) of the DER inside a stored single-certificate PEM (RFC 7468 §2). */
export function pemFingerprint(pem: string): string {
  const b64 = pem.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, "").replace(/\s+/g, "");
  return crypto.createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex");
}

/** Whether a registry row holds exactly the certificate presented (by DER fingerprint, lowercase hex). */
export const isRegisteredCertificate = (row: Pick<CertificateRow, "pem"> | undefined, fingerprint: string): boolean => row !== undefined && pemFingerprint(row.pem) === fingerprint;
