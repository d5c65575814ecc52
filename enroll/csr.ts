import type crypto from "node:crypto";
import { GatewayError } from "../errors.js";
import type { CsrFacts } from "./admission.js";
import { SIG_ALGS, verifyBytes } from "./algorithms.js";
import { type DerElement, derChildren, derOidText, derRead, derStringText } from "./der.js";
import { importSpki } from "./spki.js";

export interface ParsedCsr {
  readonly facts: CsrFacts;
  /** DER SubjectPublicKeyInfo exactly as received, copied into the certificate unchanged. */
  readonly spkiDer: Buffer;
  readonly publicKey: crypto.KeyObject;
}

function expect(e: DerElement | undefined, tag: number, what: string): DerElement {
  if (!e || e.tag !== tag) throw new RangeError(`CSR: ${what} missing or of the wrong type`);
  return e;
}

/**
 * Reads the PKCS#10 structure (RFC 2986 §4):
 *   CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
 *   CertificationRequestInfo ::= SEQUENCE { version INTEGER(0), subject Name, subjectPKInfo, attributes [0] }
 * A direct DER walk: the generic schema parser (@peculiar/asn1-schema) cost
 * ~250 µs per request here, more than verifying the signature (bench:issue).
 * Only what the admission policy reads is decoded; requested extensions are
 * never read because the profile ignores them.
 */
function readCsr(der: Buffer) {
  const top = derRead(der, 0);
  if (top.tag !== 0x30 || top.end !== der.length) throw new RangeError("CSR: not one DER SEQUENCE");
  const [info, sigAlg, sig] = derChildren(der, top);
  expect(info, 0x30, "certificationRequestInfo");
  expect(sigAlg, 0x30, "signatureAlgorithm");
  expect(sig, 0x03, "signature");
  const [version, name, spki, attrs] = derChildren(der, info!);
  const v = expect(version, 0x02, "version");
  if (v.end - v.contentStart !== 1 || der[v.contentStart] !== 0) throw new RangeError("CSR: version must be 0");
  expect(name, 0x30, "subject");
  expect(spki, 0x30, "subjectPKInfo");
  if (attrs && attrs.tag !== 0xa0) throw new RangeError("CSR: attributes must be [0]");
  const subject: { type: string; value: string }[] = [];
  for (const rdn of derChildren(der, name!)) {
    expect(rdn, 0x31, "RelativeDistinguishedName");
    for (const atv of derChildren(der, rdn)) {
      const [type, value] = derChildren(der, expect(atv, 0x30, "AttributeTypeAndValue"));
      const t = expect(type, 0x06, "attribute type");
      if (!value) throw new RangeError("CSR: attribute value missing");
      const text = derStringText(value.tag, der.subarray(value.contentStart, value.end));
      // A value of an unexpected type cannot equal a device id; keep it visible but unusable.
      subject.push({ type: derOidText(der.subarray(t.contentStart, t.end)), value: text ?? `#${der.subarray(value.start, value.end).toString("hex")}` });
    }
  }
  const algOid = expect(derChildren(der, sigAlg!)[0], 0x06, "signature algorithm OID");
  if (der[sig!.contentStart] !== 0) throw new RangeError("CSR: signature has unused bits");
  return {
    infoDer: der.subarray(info!.start, info!.end),
    spkiDer: der.subarray(spki!.start, spki!.end),
    subject,
    sigAlgOid: derOidText(der.subarray(algOid.contentStart, algOid.end)),
    signature: der.subarray(sig!.contentStart + 1, sig!.end),
  };
}

/**
 * Parses a PKCS#10 request and checks proof of possession: the signature over
 * the request info, exactly as received, with the enclosed key. Throws
 * FG_CSR_MALFORMED for anything that is not a CSR; everything else is returned
 * as facts for the admission policy (admission.ts) to judge.
 */
export function parseCsr(input: Uint8Array): ParsedCsr {
  const der = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let r: ReturnType<typeof readCsr>;
  let imported: ReturnType<typeof importSpki>;
  try {
    r = readCsr(der);
    imported = importSpki(r.spkiDer);
  } catch (e) {
    throw new GatewayError("FG_CSR_MALFORMED", undefined, { cause: e });
  }
  const alg = SIG_ALGS[r.sigAlgOid];
  const algFits = alg !== undefined && alg.keyType === imported.facts.type;
  return {
    facts: {
      subject: r.subject,
      key: imported.facts,
      signatureAlgorithmSupported: algFits,
      signatureValid: algFits && verifyBytes(alg, imported.publicKey, r.infoDer, r.signature),
    },
    spkiDer: Buffer.from(r.spkiDer),
    publicKey: imported.publicKey,
  };
}
