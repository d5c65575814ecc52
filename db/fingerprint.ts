import { fromPemAll } from "../pki/der.js";
import { fingerprint } from "../pki/peer.js";
import type { CertificateRow } from "./types.js";

/** SHA-256 (lowercase hex) of the DER inside a stored single-certificate PEM; "" when the row holds none. */
export function pemFingerprint(pem: string): string {
  const der = fromPemAll(pem)[0];
  return der ? fingerprint(der) : "";
}

/** Whether a registry row holds exactly the certificate presented (by DER fingerprint, lowercase hex). */
export const isRegisteredCertificate = (row: Pick<CertificateRow, "pem"> | undefined, fingerprint: string): boolean => row !== undefined && pemFingerprint(row.pem) === fingerprint;
