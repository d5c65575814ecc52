import { AsnConvert } from "@peculiar/asn1-schema";
import {
  Certificate, CertificatePolicies, ExtendedKeyUsage, BasicConstraints,
  id_ce_certificatePolicies, id_ce_extKeyUsage, id_ce_basicConstraints,
} from "@peculiar/asn1-x509";
import { canonicalSerial, type CertFacts } from "../../pki/cert-facts.js";
import { roleFromPolicyOids, OID } from "../../pki/roles.js";

/**
 * The certificate facts as the generic ASN.1 parser (@peculiar/asn1-x509) reads
 * them: the reference that pki/cert-facts.ts (a strict DER walk) must agree with.
 */
export function referenceCertFacts(der: Uint8Array): CertFacts {
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
