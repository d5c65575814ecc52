import type { ErrorCode } from "../errors.js";
import { keyWeakness } from "../pki/key-strength.js";
import type { KeyFacts } from "../pki/spki.js";
import type { CsrFacts } from "../pki/csr.js";
import { isValidName, OID } from "../pki/roles.js";

/**
 * CSR admission as a pure decision over facts extracted from the CSR (see
 * pki/csr.ts). No I/O: table-tested in test/unit/admission.test.ts.
 */
export type { KeyFacts } from "../pki/spki.js";
export type { CsrFacts } from "../pki/csr.js";

export type Decision = { readonly ok: true } | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

const ALLOW: Decision = Object.freeze({ ok: true });
const deny = (code: ErrorCode, reason: string): Decision => ({ ok: false, code, reason });

const EC_CURVES = new Set(["prime256v1", "secp384r1"]);

/**
 * EC P-256/P-384, RSA >= 2048 bits, or Ed25519, each with a sound key
 * (key-strength.ts: no RSA e = 1, no point at infinity, no small-order Ed25519
 * point); everything else is refused.
 */
export function admitKey(k: KeyFacts): Decision {
  if (k.type === "ec") {
    if (!k.curve || !EC_CURVES.has(k.curve)) return deny("FG_CSR_KEY_UNSUPPORTED", `EC curve ${k.curve ?? "unknown"} is not accepted (P-256 or P-384)`);
  } else if (k.type === "rsa") {
    if ((k.bits ?? 0) < 2048) return deny("FG_CSR_KEY_UNSUPPORTED", `RSA key of ${k.bits ?? 0} bits is too weak (2048 or more)`);
  } else if (k.type !== "ed25519") {
    return deny("FG_CSR_KEY_UNSUPPORTED", `key type ${k.type} is not accepted`);
  }
  const weak = keyWeakness(k);
  return weak === undefined ? ALLOW : deny("FG_CSR_KEY_WEAK", weak);
}

/** The CSR's CN, when its subject is exactly one CN attribute; undefined otherwise. */
export function soleCommonName(f: CsrFacts): string | undefined {
  return f.subject.length === 1 && f.subject[0]!.type === OID.commonName ? f.subject[0]!.value : undefined;
}

/**
 * Admits a CSR for the identity the request was authorized as (token, bootstrap
 * certificate or current certificate). Order matters for the answer: a CSR that
 * cannot prove possession is refused before anything it claims is considered.
 */
export function admitCsr(f: CsrFacts, authorizedId: string): Decision {
  if (!f.signatureAlgorithmSupported) return deny("FG_CSR_SIGNATURE_ALG_UNSUPPORTED", "CSR signature algorithm is not supported");
  if (!f.signatureValid) return deny("FG_CSR_SIGNATURE_INVALID", "CSR signature does not verify");
  const key = admitKey(f.key);
  if (!key.ok) return key;
  const cn = soleCommonName(f);
  if (cn === undefined) return deny("FG_CSR_SUBJECT_INVALID", "CSR subject must be exactly CN=<deviceId>");
  if (!isValidName(cn)) return deny("FG_DEVICE_ID_INVALID", "CSR CN is not a valid device id");
  // RFC 7030 §4.2.2 (re-enroll: subject identical); README "EST enrollment" (enroll: CN equals the authorized id).
  if (cn !== authorizedId) return deny("FG_CSR_SUBJECT_MISMATCH", `CSR CN ${JSON.stringify(cn)} does not match the authorized device ${JSON.stringify(authorizedId)}`);
  return ALLOW;
}
