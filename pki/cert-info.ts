import { AsnConvert } from "@peculiar/asn1-schema";
import {
  Certificate, CertificatePolicies, ExtendedKeyUsage, BasicConstraints, SubjectKeyIdentifier, AuthorityKeyIdentifier,
  id_ce_certificatePolicies, id_ce_extKeyUsage, id_ce_basicConstraints, id_ce_subjectKeyIdentifier, id_ce_authorityKeyIdentifier,
} from "@peculiar/asn1-x509";
import { type Role, roleFromPolicyOids, OID } from "./roles.js";

/** The facts about a certificate that identity and re-enrollment decisions need. Immutable. */
export interface CertFacts {
  /** Lowercase hex, no leading zero byte: the registry's key. */
  readonly serial: string;
  readonly subject: ReadonlyArray<{ readonly type: string; readonly value: string }>;
  readonly commonName: string | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
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

export function certFacts(der: Uint8Array): CertFacts {
  const cert = AsnConvert.parse(der, Certificate);
  const tbs = cert.tbsCertificate;
  const subject: { type: string; value: string }[] = [];
  for (const rdn of tbs.subject) for (const atv of rdn) subject.push({ type: atv.type, value: atv.value.toString() });
  let policies: string[] = [];
  let eku: string[] = [];
  let isCA = false;
  for (const ext of tbs.extensions ?? []) {
    const v = ext.extnValue.buffer;
    switch (ext.extnID) {
      case id_ce_certificatePolicies: policies = AsnConvert.parse(v, CertificatePolicies).map((p) => p.policyIdentifier); break;
      case id_ce_extKeyUsage: eku = AsnConvert.parse(v, ExtendedKeyUsage).map(String); break;
      case id_ce_basicConstraints: isCA = AsnConvert.parse(v, BasicConstraints).cA; break;
    }
  }
  const cn = subject.filter((a) => a.type === OID.commonName);
  return Object.freeze({
    serial: canonicalSerial(new Uint8Array(tbs.serialNumber)),
    subject: Object.freeze(subject),
    commonName: cn.length === 1 ? cn[0]!.value : undefined,
    notBefore: tbs.validity.notBefore.getTime().getTime(),
    notAfter: tbs.validity.notAfter.getTime().getTime(),
    role: roleFromPolicyOids(policies),
    extKeyUsage: Object.freeze(eku),
    isCA,
  });
}
