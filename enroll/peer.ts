import crypto from "node:crypto";
import type { TLSSocket } from "node:tls";
import { certFacts, type CertFacts } from "./cert-info.js";
import { certificateKeyWeakness } from "./key-strength.js";

/**
 * What the TLS layer says about an HTTPS client, classified. The HTTPS listener
 * requests but does not require a certificate (initial enrollment has none), so
 * every handler decides from this value.
 */
export type HttpsPeer =
  | { readonly kind: "none" }
  | { readonly kind: "untrusted"; readonly reason: string }
  /** Issued by this gateway's issuing CA. */
  | { readonly kind: "gateway"; readonly facts: CertFacts }
  /** A manufacturer certificate chaining to one of the --bootstrap-ca anchors. */
  | { readonly kind: "bootstrap"; readonly facts: CertFacts };

export interface TrustAnchors {
  /** The issuing CA, parsed once; SHA-256 fingerprints (hex) of the bootstrap anchors. */
  readonly issuing: crypto.X509Certificate;
  readonly bootstrap: ReadonlySet<string>;
}

export const fingerprint = (der: Uint8Array) => crypto.createHash("sha256").update(der).digest("hex");

type PeerCert = ReturnType<TLSSocket["getPeerCertificate"]> & { issuerCertificate?: PeerCert };

export function classifyPeer(socket: TLSSocket, anchors: TrustAnchors, x = socket.getPeerX509Certificate()): HttpsPeer {
  // getPeerX509Certificate wraps what OpenSSL already parsed; getPeerCertificate(true)
  // converts the whole chain to JS objects (~0.5 ms), so it is used only for bootstrap chains.
  if (!x) return { kind: "none" };
  // OpenSSL verified the chain against our CA list (and checked validity dates and the clientAuth purpose).
  if (!socket.authorized) return { kind: "untrusted", reason: String(socket.authorizationError ?? "unverified") };
  let facts: CertFacts;
  try {
    facts = certFacts(x.raw);
  } catch {
    return { kind: "untrusted", reason: "unparseable certificate" };
  }
  // The handshake's proof of possession is a signature under this key: a degenerate key (RSA e = 1,
  // small-order Ed25519) proves nothing, so whoever has the public certificate could present it.
  const weak = certificateKeyWeakness(x.raw);
  if (weak) return { kind: "untrusted", reason: `certificate key proves nothing: ${weak}` };
  // The verified chain's first link is the issuing CA (name and key identifier match).
  if (x.checkIssued(anchors.issuing)) return facts.isCA ? { kind: "untrusted", reason: "CA certificate" } : { kind: "gateway", facts };
  if (anchors.bootstrap.size === 0) return { kind: "untrusted", reason: "not issued by the gateway's issuing CA" };
  const leaf = socket.getPeerCertificate(true) as PeerCert;
  // Walk up the chain: any bootstrap anchor in it makes this a manufacturer certificate.
  for (let c: PeerCert | undefined = leaf.issuerCertificate, i = 0; c?.raw && i < 8; c = c.issuerCertificate === c ? undefined : c.issuerCertificate, i++) {
    if (anchors.bootstrap.has(fingerprint(c.raw))) return facts.isCA ? { kind: "untrusted", reason: "CA certificate" } : { kind: "bootstrap", facts };
  }
  return { kind: "untrusted", reason: "not issued by the gateway or a bootstrap CA" };
}
