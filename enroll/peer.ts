import crypto from "node:crypto";
import type { Server, TLSSocket } from "node:tls";
import { certFacts, type CertFacts } from "../pki/cert-info.js";
import { certFingerprint, signedBy } from "../pki/signed-by.js";
import { refuseRenegotiation } from "../front/tls-policy.js";
import { certificateKeyWeakness } from "../pki/key-strength.js";

/**
 * What the TLS layer says about an HTTPS client, classified. The HTTPS listener
 * requests but does not require a certificate (initial enrollment has none), so
 * every handler decides from this value.
 */
export type HttpsPeer =
  | { readonly kind: "none" }
  | { readonly kind: "untrusted"; readonly reason: string }
  /** Signed by this gateway's issuing CA; `fingerprint` (SHA-256 of the DER, hex) names the very certificate. */
  | { readonly kind: "gateway"; readonly facts: CertFacts; readonly fingerprint: string }
  /** A manufacturer certificate whose signatures chain to one of the --bootstrap-ca anchors. */
  | { readonly kind: "bootstrap"; readonly facts: CertFacts };

export interface TrustAnchors {
  /** The issuing CA, parsed once. */
  readonly issuing: crypto.X509Certificate;
  /** The bootstrap anchors, by SHA-256 fingerprint (hex) of the configured certificate. */
  readonly bootstrap: ReadonlyMap<string, crypto.X509Certificate>;
}

export const fingerprint = (der: Uint8Array) => crypto.createHash("sha256").update(der).digest("hex");

/** Parses the configured bootstrap anchors once. */
export const bootstrapAnchors = (ders: readonly Uint8Array[]): ReadonlyMap<string, crypto.X509Certificate> =>
  new Map(ders.map((der) => [fingerprint(der), new crypto.X509Certificate(der)]));

type PeerCert = ReturnType<TLSSocket["getPeerCertificate"]> & { issuerCertificate?: PeerCert };

/** Longest manufacturer chain walked (leaf, intermediates, anchor). */
const MAX_CHAIN = 8;

/**
 * Classifies the client certificate the handshake verified. A certificate is
 * recognised as ours, or a manufacturer's, only by its signature verifying under
 * the CA's key (RFC 5280 §6.1.3): issuer names and key identifiers are copied by
 * forgers for free.
 */
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
  if (signedBy(x, anchors.issuing)) return facts.isCA ? { kind: "untrusted", reason: "CA certificate" } : { kind: "gateway", facts, fingerprint: certFingerprint(x) };
  if (anchors.bootstrap.size === 0) return { kind: "untrusted", reason: "not issued by the gateway's issuing CA" };
  if (chainsToBootstrap(x, socket, anchors.bootstrap)) return facts.isCA ? { kind: "untrusted", reason: "CA certificate" } : { kind: "bootstrap", facts };
  return { kind: "untrusted", reason: "not issued by the gateway or a bootstrap CA" };
}

/**
 * Whether every link from the leaf up to a configured bootstrap anchor carries a
 * signature that verifies under the next certificate's key. The anchor is the
 * configured certificate (matched by fingerprint, its key taken from our copy);
 * intermediates must be CA certificates.
 */
function chainsToBootstrap(leaf: crypto.X509Certificate, socket: TLSSocket, bootstrap: TrustAnchors["bootstrap"]): boolean {
  for (const anchor of bootstrap.values()) if (signedBy(leaf, anchor)) return true;
  let child = leaf;
  const top = socket.getPeerCertificate(true) as PeerCert;
  for (let c = top.issuerCertificate, i = 0; c?.raw && i < MAX_CHAIN; c = c.issuerCertificate === c ? undefined : c.issuerCertificate, i++) {
    const anchor = bootstrap.get(fingerprint(c.raw));
    if (anchor) return signedBy(child, anchor);
    let parent: crypto.X509Certificate;
    try {
      parent = new crypto.X509Certificate(c.raw);
    } catch {
      return false;
    }
    if (!parent.ca || !signedBy(child, parent)) return false;
    child = parent;
  }
  return false;
}

/**
 * Binds each HTTPS connection to the certificate its handshake verified: the
 * peer is classified once at 'secureConnection' and that verdict serves every
 * request on the connection. Renegotiation is refused on the socket, so the
 * peer certificate cannot change underneath (and would not be read again).
 */
export function bindPeers(server: Server, anchors: TrustAnchors, onRenegotiation?: (socket: TLSSocket, peer: HttpsPeer) => void): (socket: TLSSocket) => HttpsPeer {
  const peers = new WeakMap<TLSSocket, HttpsPeer>();
  const attempted = onRenegotiation && ((socket: TLSSocket) => onRenegotiation(socket, peers.get(socket) ?? { kind: "none" }));
  server.prependListener("secureConnection", (socket: TLSSocket) => {
    refuseRenegotiation(socket, attempted);
    let peer: HttpsPeer;
    try {
      peer = classifyPeer(socket, anchors);
    } catch (e) {
      // A throw here would end the process: whatever the client sent, it is refused instead.
      peer = { kind: "untrusted", reason: `unclassifiable certificate: ${(e as Error).message}` };
    }
    peers.set(socket, peer);
  });
  return (socket) => peers.get(socket) ?? { kind: "untrusted", reason: "connection was not classified at its handshake" };
}
