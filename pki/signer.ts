import crypto from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier, AuthorityKeyIdentifier, BasicConstraints, Certificate,
  CertificatePolicies, CRLDistributionPoints, DistributionPoint, DistributionPointName, ExtendedKeyUsage,
  GeneralName, KeyIdentifier, KeyUsage, KeyUsageFlags, Name, PolicyInformation, SubjectAlternativeName,
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_certificatePolicies, id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectAltName,
} from "@peculiar/asn1-x509";
import { type SigAlg, sigAlgFor, signBytes } from "./algorithms.js";
import { derBitString, derSequence, derTlv, toPem } from "./der.js";
import type { CertTemplate } from "./template.js";
import { canonicalSerial } from "./cert-facts.js";
import { skiExtensionDer, spkiKeyBits, validityDer } from "./cert-der.js";
import { cnName, cnNameDer, extensionDer as ext } from "./names.js";

export interface IssuedCertificate {
  readonly serial: string;
  readonly der: Buffer;
  readonly pem: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** A key that signs, with its certificate's subject and key identifier. */
export interface Issuer {
  readonly nameDer: Buffer;
  readonly name: Name;
  readonly key: crypto.KeyObject;
  readonly alg: SigAlg;
  readonly algIdDer: Buffer;
  /** SubjectKeyIdentifier of the issuer, hex; becomes the AKI of what it signs. */
  readonly ski: string;
}

/**
 * RFC 5280 §4.1.2.2: positive, at most 20 octets. 16 random bytes with the top
 * bits forced to 01 give 126 bits of entropy and a canonical encoding with no
 * leading zero byte.
 */
export function randomSerial(): Buffer {
  const b = crypto.randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b;
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING. */
export function keyIdentifier(spkiDer: Uint8Array): Buffer {
  return crypto.createHash("sha1").update(spkiKeyBits(spkiDer)).digest();
}

export function algIdDer(alg: SigAlg): Buffer {
  return Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: alg.oid, ...(alg.nullParams ? { parameters: null } : {}) })));
}

/**
 * The one way to make an Issuer: from the issuer's certificate, or (selfIssuer)
 * from the name and key of a self-signed root about to be created.
 */
export function makeIssuer(certDer: Uint8Array, key: crypto.KeyObject): Issuer {
  const cert = AsnConvert.parse(certDer, Certificate);
  const alg = sigAlgFor(key);
  const spkiDer = Buffer.from(AsnConvert.serialize(cert.tbsCertificate.subjectPublicKeyInfo));
  return {
    name: cert.tbsCertificate.subject,
    nameDer: Buffer.from(AsnConvert.serialize(cert.tbsCertificate.subject)),
    key,
    alg,
    algIdDer: algIdDer(alg),
    ski: keyIdentifier(spkiDer).toString("hex"),
  };
}

/** A root CA's own Issuer, before its certificate exists: the root signs itself under this name. */
export function selfIssuer(cn: string, key: crypto.KeyObject, spkiDer: Uint8Array): Issuer {
  const name = cnName(cn);
  const alg = sigAlgFor(key);
  return { name, nameDer: Buffer.from(AsnConvert.serialize(name)), key, alg, algIdDer: algIdDer(alg), ski: keyIdentifier(spkiDer).toString("hex") };
}

const KU: Record<string, number> = {
  digitalSignature: KeyUsageFlags.digitalSignature,
  keyCertSign: KeyUsageFlags.keyCertSign,
  cRLSign: KeyUsageFlags.cRLSign,
};

/** The DER of every extension a template fixes (all but the SKI, which depends on the key). */
function fixedExtensions(t: CertTemplate, akiHex: string): Buffer[] {
  const out: Buffer[] = [];
  // RFC 5280 §4.2.1.9: basicConstraints is critical in CA certificates; we mark it critical everywhere.
  out.push(ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: t.ca, ...(t.pathLen === undefined ? {} : { pathLenConstraint: t.pathLen }) })));
  out.push(ext(id_ce_keyUsage, true, new KeyUsage(t.keyUsage.reduce((f, k) => f | KU[k]!, 0))));
  if (t.extKeyUsage.length) out.push(ext(id_ce_extKeyUsage, false, new ExtendedKeyUsage([...t.extKeyUsage])));
  out.push(ext(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(Buffer.from(akiHex, "hex")) })));
  if (t.policies.length) out.push(ext(id_ce_certificatePolicies, false, new CertificatePolicies(t.policies.map((p) => new PolicyInformation({ policyIdentifier: p })))));
  if (t.crlUrl) {
    out.push(ext(id_ce_cRLDistributionPoints, false, new CRLDistributionPoints([
      new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: t.crlUrl })] }) }),
    ])));
  }
  const sans = [
    ...(t.dnsNames ?? []).map((d) => new GeneralName({ dNSName: d })),
    ...(t.ipAddresses ?? []).map((ip) => new GeneralName({ iPAddress: ip })),
  ];
  if (sans.length) out.push(ext(id_ce_subjectAltName, false, new SubjectAlternativeName(sans)));
  return out;
}

const V3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

/**
 * Signs certificates from templates. Everything that does not vary per
 * certificate (issuer name, algorithm identifier, the fixed extensions) is DER
 * encoded once and cached; the TBSCertificate is assembled from DER pieces and
 * signed with node:crypto, so nothing is encoded twice.
 */
export class CertSigner {
  private readonly fixedCache = new Map<string, Buffer[]>();

  constructor(private readonly issuer: Issuer) {}

  sign(t: CertTemplate, spkiDer: Buffer, opts: { selfSigned?: boolean; serial?: Buffer } = {}): IssuedCertificate {
    const serial = opts.serial ?? randomSerial();
    const ski = keyIdentifier(spkiDer);
    const akiHex = opts.selfSigned ? ski.toString("hex") : this.issuer.ski;
    const cacheKey = JSON.stringify([t.ca, t.pathLen, t.keyUsage, t.extKeyUsage, t.policies, t.crlUrl, t.dnsNames, t.ipAddresses, akiHex]);
    let fixed = this.fixedCache.get(cacheKey);
    if (!fixed) {
      fixed = fixedExtensions(t, akiHex);
      if (this.fixedCache.size > 64) this.fixedCache.clear();
      this.fixedCache.set(cacheKey, fixed);
    }
    const skiExt = skiExtensionDer(ski);
    const subjectDer = cnNameDer(t.subjectCN);
    const tbs = derSequence(
      V3,
      derTlv(0x02, serial),
      this.issuer.algIdDer,
      opts.selfSigned ? subjectDer : this.issuer.nameDer,
      validityDer(t.notBefore, t.notAfter),
      subjectDer,
      spkiDer,
      derTlv(0xa3, derSequence(...fixed, skiExt)),
    );
    const der = derSequence(tbs, this.issuer.algIdDer, derBitString(signBytes(this.issuer.alg, this.issuer.key, tbs)));
    return {
      serial: canonicalSerial(serial),
      der,
      pem: toPem(der, "CERTIFICATE"),
      notBefore: t.notBefore.getTime(),
      notAfter: t.notAfter.getTime(),
    };
  }
}
