import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier, AuthorityKeyIdentifier, CRLNumber, CRLReason, CRLReasons, KeyIdentifier,
  RevokedCertificate, TBSCertList, Time, Version, id_ce_authorityKeyIdentifier, id_ce_cRLNumber, id_ce_cRLReasons,
} from "@peculiar/asn1-x509";
import { signBytes } from "./algorithms.js";
import type { Issuer } from "./signer.js";
import { extension } from "./names.js";
import { derBitString, derSequence } from "./der.js";

/** RFC 5280 §5.3.1 reason codes the gateway records (the registry stores the same names). */
export type RevocationReason = "unspecified" | "keyCompromise" | "superseded" | "cessationOfOperation";

export interface CrlEntry {
  readonly serial: string;
  readonly revokedAt: number;
  readonly reason: RevocationReason | null;
}

const REASONS: Record<RevocationReason, CRLReasons> = {
  unspecified: CRLReasons.unspecified,
  keyCompromise: CRLReasons.keyCompromise,
  superseded: CRLReasons.superseded,
  cessationOfOperation: CRLReasons.cessationOfOperation,
};

/** How long a CRL is good for; relying parties fetch a new one by nextUpdate. */
export const CRL_LIFETIME_MS = 24 * 3600 * 1000;

const ext = (id: string, value: object) => extension(id, false, value);

/**
 * A v2 CRL (RFC 5280 §5) signed by the issuing CA, with the AKI and CRL number
 * extensions RFC 5280 §5.2 requires of conforming CAs, and a reason code per
 * entry (§5.3.1; "unspecified" is omitted as the RFC recommends).
 */
export function buildCrl(issuer: Issuer, entries: readonly CrlEntry[], crlNumber: number, now: number): Buffer {
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: AsnConvert.parse(issuer.algIdDer, AlgorithmIdentifier),
    issuer: issuer.name,
    thisUpdate: new Time(new Date(now)),
    nextUpdate: new Time(new Date(now + CRL_LIFETIME_MS)),
    ...(entries.length
      ? {
          revokedCertificates: entries.map((e) => new RevokedCertificate({
            userCertificate: new Uint8Array(Buffer.from(e.serial.length % 2 ? `0${e.serial}` : e.serial, "hex")).buffer,
            revocationDate: new Time(new Date(e.revokedAt)),
            ...(e.reason && e.reason !== "unspecified" ? { crlEntryExtensions: [ext(id_ce_cRLReasons, new CRLReason(REASONS[e.reason]))] } : {}),
          })),
        }
      : {}),
    crlExtensions: [
      ext(id_ce_authorityKeyIdentifier, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(Buffer.from(issuer.ski, "hex")) })),
      ext(id_ce_cRLNumber, new CRLNumber(crlNumber)),
    ],
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  return derSequence(tbsDer, issuer.algIdDer, derBitString(signBytes(issuer.alg, issuer.key, tbsDer)));
}
