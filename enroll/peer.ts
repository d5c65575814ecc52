import crypto from "node:crypto";
import type { TLSSocket } from "node:tls";
import { certFacts, type CertFacts } from "./cert-info.js";

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
  /** SHA-256 fingerprints (hex) */
  readonly issuing: string;
  readonly bootstrap: ReadonlySet<string>;
}

export const fingerprint = (der: Uint8Array) => crypto.createHash("sha256").update(der).digest("hex");

type PeerCert = ReturnType<TLSSocket["getPeerCertificate"]> & { issuerCertificate?: PeerCert };

export function classifyPeer(socket: TLSSocket, anchors: TrustAnchors): HttpsPeer {
  const leaf = socket.getPeerCertificate(true) as PeerCert;
  if (!leaf || !leaf.raw) return { kind: "none" };
  // OpenSSL verified the chain against our CA list (and checked validity dates and the clientAuth purpose).
  if (!socket.authorized) return { kind: "untrusted", reason: String(socket.authorizationError ?? "unverified") };
  let facts: CertFacts;
  try {
    facts = certFacts(leaf.raw);
  } catch {
    return { kind: "untrusted", reason: "unparseable certificate" };
  }
  const issuer = leaf.issuerCertificate;
  if (issuer?.raw && fingerprint(issuer.raw) === anchors.issuing && !facts.isCA) return { kind: "gateway", facts };
  // Walk up the chain: any bootstrap anchor in it makes this a manufacturer certificate.
  for (let c: PeerCert | undefined = issuer, i = 0; c?.raw && i < 8; c = c.issuerCertificate === c ? undefined : c.issuerCertificate, i++) {
    if (anchors.bootstrap.has(fingerprint(c.raw))) return facts.isCA ? { kind: "untrusted", reason: "CA certificate" } : { kind: "bootstrap", facts };
  }
  return { kind: "untrusted", reason: "not issued by the gateway or a bootstrap CA" };
}
