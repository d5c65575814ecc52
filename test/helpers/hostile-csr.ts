import crypto from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { CertificationRequestInfo, Attributes } from "@peculiar/asn1-csr";
import { AlgorithmIdentifier, Attribute, AttributeTypeAndValue, AttributeValue, RelativeDistinguishedName, BasicConstraints, Extension, Extensions, KeyUsage, KeyUsageFlags, SubjectPublicKeyInfo, id_ce_basicConstraints, id_ce_keyUsage } from "@peculiar/asn1-x509";
import { sigAlgFor, signBytes } from "../../pki/algorithms.js";
import { cnName } from "../../pki/names.js";
import { derBitString, derSequence, toArrayBuffer } from "../../pki/der.js";
import { OID } from "../../pki/roles.js";

export interface CsrParams {
  /** Subject CN; the gateway requires exactly CN=<deviceId>. */
  readonly cn: string;
  readonly privateKey: crypto.KeyObject;
  /** Ask for CA:TRUE and keyCertSign (a hostile request the CA must ignore). */
  readonly requestCa?: boolean;
  /** Extra subject attributes after the CN, as [oid, value]. */
  readonly extraSubject?: ReadonlyArray<readonly [string, string]>;
}

/**
 * Builds a PKCS#10 request (RFC 2986) with @peculiar/asn1-csr structures and
 * signs it with node:crypto, so any key node supports works, including keys
 * WebCrypto refuses (P-192, RSA-1024) that tests need to see refused.
 */
export function buildCsr(p: CsrParams): Buffer {
  const publicKey = crypto.createPublicKey(p.privateKey);
  const spki = AsnConvert.parse(publicKey.export({ type: "spki", format: "der" }), SubjectPublicKeyInfo);
  const subject = cnName(p.cn);
  for (const [type, value] of p.extraSubject ?? []) {
    subject.push(new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]));
  }
  const attributes = new Attributes();
  if (p.requestCa) {
    const exts = new Extensions([
      new Extension({ extnID: id_ce_basicConstraints, critical: true, extnValue: new OctetString(AsnConvert.serialize(new BasicConstraints({ cA: true }))) }),
      new Extension({ extnID: id_ce_keyUsage, critical: true, extnValue: new OctetString(AsnConvert.serialize(new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign))) }),
    ]);
    attributes.push(new Attribute({ type: OID.extensionRequest, values: [AsnConvert.serialize(exts)] }));
  }
  const info = new CertificationRequestInfo({ subject, subjectPKInfo: spki, attributes });
  const infoDer = Buffer.from(AsnConvert.serialize(info));
  const alg = sigAlgFor(p.privateKey);
  const algDer = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: alg.oid, ...(alg.nullParams ? { parameters: null } : {}) })));
  return derSequence(infoDer, algDer, derBitString(signBytes(alg, p.privateKey, infoDer)));
}

/** Flips one bit of the signature: the request still parses but proves nothing. */
export function breakCsrSignature(der: Buffer): Buffer {
  const copy = Buffer.from(der);
  copy[copy.length - 3]! ^= 0x01;
  return copy;
}

export { toArrayBuffer };

/**
 * Builds a PKCS#10 request around any SubjectPublicKeyInfo, with a signature
 * produced by `sign` over the request info (or any bytes at all): for hostile
 * requests whose key node cannot sign with (RSA e = 1, small-order Ed25519).
 */
export function buildCsrRaw(p: { cn: string; spkiDer: Uint8Array; sigAlgOid: string; nullParams: boolean; sign: (info: Buffer) => Uint8Array }): Buffer {
  const info = new CertificationRequestInfo({ subject: cnName(p.cn), subjectPKInfo: AsnConvert.parse(p.spkiDer, SubjectPublicKeyInfo), attributes: new Attributes() });
  const infoDer = Buffer.from(AsnConvert.serialize(info));
  const algDer = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: p.sigAlgOid, ...(p.nullParams ? { parameters: null } : {}) })));
  return derSequence(infoDer, algDer, derBitString(p.sign(infoDer)));
}
