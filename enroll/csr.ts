import crypto from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { GatewayError } from "../errors.js";
import type { CsrFacts, KeyFacts } from "./admission.js";
import { SIG_ALGS, verifyBytes } from "./algorithms.js";

export interface ParsedCsr {
  readonly facts: CsrFacts;
  /** DER SubjectPublicKeyInfo, copied into the certificate unchanged. */
  readonly spkiDer: Buffer;
  readonly publicKey: crypto.KeyObject;
}

function keyFacts(k: crypto.KeyObject): KeyFacts {
  const d = k.asymmetricKeyDetails ?? {};
  const t = k.asymmetricKeyType ?? "unknown";
  return {
    type: t,
    ...(d.namedCurve ? { curve: d.namedCurve } : {}),
    ...(d.modulusLength ? { bits: d.modulusLength } : {}),
  };
}

/**
 * Parses a PKCS#10 request (RFC 2986) and checks proof of possession: the
 * signature over the request info, exactly as received, with the enclosed key.
 * Throws FG_CSR_MALFORMED for anything that is not a CSR; everything else is
 * returned as facts for the admission policy to judge.
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  let req: CertificationRequest;
  let spkiDer: Buffer;
  let publicKey: crypto.KeyObject;
  try {
    req = AsnConvert.parse(der, CertificationRequest);
    spkiDer = Buffer.from(AsnConvert.serialize(req.certificationRequestInfo.subjectPKInfo));
    publicKey = crypto.createPublicKey({ key: spkiDer, format: "der", type: "spki" });
  } catch (e) {
    throw new GatewayError("FG_CSR_MALFORMED", undefined, { cause: e });
  }
  const raw = req.certificationRequestInfoRaw;
  if (!raw) throw new GatewayError("FG_CSR_MALFORMED");
  const subject: { type: string; value: string }[] = [];
  for (const rdn of req.certificationRequestInfo.subject) {
    for (const atv of rdn) subject.push({ type: atv.type, value: atv.value.toString() });
  }
  const alg = SIG_ALGS[req.signatureAlgorithm.algorithm];
  const key = keyFacts(publicKey);
  const algFits = alg !== undefined && alg.keyType === key.type;
  return {
    facts: {
      subject,
      key,
      signatureAlgorithmSupported: algFits,
      signatureValid: algFits && verifyBytes(alg, publicKey, new Uint8Array(raw), new Uint8Array(req.signature)),
    },
    spkiDer,
    publicKey,
  };
}
