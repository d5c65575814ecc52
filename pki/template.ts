/**
 * What a certificate says, as plain data: the signer (signer.ts) encodes exactly
 * this and nothing a request asked for. The profiles that fill it in (which
 * role gets which extensions) are enrollment policy and live in enroll/profile.ts.
 */
export type KeyUsageName = "digitalSignature" | "keyCertSign" | "cRLSign";

export interface CertTemplate {
  readonly subjectCN: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly ca: boolean;
  /** basicConstraints pathLenConstraint, CA certificates only. */
  readonly pathLen?: number;
  readonly keyUsage: readonly KeyUsageName[];
  readonly extKeyUsage: readonly string[];
  readonly policies: readonly string[];
  /** CRL Distribution Point URL (RFC 5280 §4.2.1.13), end-entity certificates only. */
  readonly crlUrl?: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}
