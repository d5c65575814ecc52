import crypto from "node:crypto";
import { GatewayError } from "../errors.js";
import { SIG_ALGS, verifyBytes } from "./algorithms.js";
import { readCsr } from "./csr-der.js";
import { keyWeakness } from "./key-strength.js";
import { type KeyFacts, importSpki, spkiFacts } from "./spki.js";

/** What a CSR says, for the admission policy (enroll/admission.ts). */
export interface CsrFacts {
  /** Subject attributes in order, as (OID, string value). */
  readonly subject: ReadonlyArray<{ readonly type: string; readonly value: string }>;
  readonly key: KeyFacts;
  readonly signatureAlgorithmSupported: boolean;
  readonly signatureValid: boolean;
}

export interface ParsedCsr {
  readonly facts: CsrFacts;
  /** DER SubjectPublicKeyInfo, copied into the certificate unchanged. */
  readonly spkiDer: Buffer;
  /** The imported key: redelivery (enroll/redelivery.ts) matches it against certificates already issued. */
  readonly publicKey: crypto.KeyObject;
}

/**
 * Parses a PKCS#10 request (RFC 2986) and checks proof of possession: the
 * signature over the request info, exactly as received, with the enclosed key.
 * Throws FG_CSR_MALFORMED for anything that is not a DER-encoded CSR (see
 * csr-der.ts), and FG_CSR_KEY_WEAK for a key under which signatures prove
 * nothing (key-strength.ts): judged from the encoding before the key is
 * imported or used, since such a key's "proof" is no proof, and the point at
 * infinity must never reach OpenSSL. Everything else is returned as facts for
 * the admission policy.
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  const parts = readCsr(der);
  if (!parts) throw new GatewayError("FG_CSR_MALFORMED");
  const spkiDer = Buffer.from(parts.spkiDer);
  const shape = spkiFacts(spkiDer);
  const weak = shape && keyWeakness(shape);
  if (weak) throw new GatewayError("FG_CSR_KEY_WEAK", weak);
  let imported: ReturnType<typeof importSpki>;
  try {
    imported = importSpki(spkiDer, shape);
  } catch (e) {
    // A well-formed point on a supported curve that OpenSSL refuses is not on the curve (SEC 1 §3.2.2.1).
    if (shape?.type === "ec" && (shape.curve === "prime256v1" || shape.curve === "secp384r1")) throw new GatewayError("FG_CSR_KEY_WEAK", "EC point is not on the curve", { cause: e });
    throw new GatewayError("FG_CSR_MALFORMED", undefined, { cause: e });
  }
  const { key: publicKey, facts: key } = imported;
  const alg = SIG_ALGS[parts.signatureAlgorithm];
  const algFits = alg !== undefined && alg.keyType === key.type;
  return {
    facts: {
      subject: parts.subject,
      key,
      signatureAlgorithmSupported: algFits,
      signatureValid: algFits && verifyBytes(alg, publicKey, parts.infoDer, parts.signature),
    },
    spkiDer,
    publicKey,
  };
}
