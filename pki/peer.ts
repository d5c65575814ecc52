import crypto from "node:crypto";
import type { TLSSocket } from "node:tls";
import { certFacts, type CertFacts } from "./cert-facts.js";
import { certFingerprint, signedBy } from "./signed-by.js";
import { certificateKeyWeakness } from "./key-strength.js";

/**
 * The one classification of a TLS peer, for both listeners (HTTPS and MQTT).
 * A certificate is recognised as the gateway's, or a manufacturer's, only by its
 * signature verifying under the CA's key (RFC 5280 §6.1.3 (a)(1)): issuer names
 * and key identifiers (X509_check_issued) are only a pre-filter, since anybody
 * can copy them into a self-made certificate. The verdict on a certificate is
 * cached per whole certificate (its SHA-256 fingerprint), never per serial or
 * name; each listener binds it to the connection at the handshake.
 */

/** What is known about one leaf certificate, whoever presents it. Immutable. */
export interface PeerCertificate {
  /** undefined when the DER could not be read (OpenSSL accepted it, the strict DER reader did not). */
  readonly facts: CertFacts | undefined;
  /** The leaf's signature verifies under the gateway's issuing CA's key. */
  readonly issuedByIssuingCa: boolean;
  /** SHA-256 (lowercase hex) of the leaf's DER: the registered certificate must be this one. */
  readonly fingerprint: string;
  /** Why the leaf's public key proves nothing (key-strength.ts), when it is degenerate. */
  readonly keyWeakness?: string | undefined;
}

/**
 * The verdict on a leaf, judged once per certificate. A TLS client's proof of
 * possession is a signature under this key: a degenerate key (RSA e = 1,
 * small-order Ed25519) proves nothing, so whoever has the public certificate
 * could present it.
 */
export function examinePeer(x: crypto.X509Certificate, issuing: crypto.X509Certificate): PeerCertificate {
  let facts: CertFacts | undefined;
  try {
    facts = certFacts(x.raw);
  } catch {
    facts = undefined;
  }
  const issuedByIssuingCa = signedBy(x, issuing);
  const keyWeakness = certificateKeyWeakness(x.raw);
  return Object.freeze({ facts, issuedByIssuingCa, fingerprint: certFingerprint(x), ...(keyWeakness ? { keyWeakness } : {}) });
}

/**
 * Verdicts cached per certificate fingerprint in a bounded LRU, so a reconnecting
 * client costs a hash-table hit instead of reading the certificate again. Uses
 * getPeerX509Certificate(), which wraps the certificate OpenSSL already parsed;
 * getPeerCertificate(true) builds the whole chain as JS objects and costs about
 * 0.5 ms per call.
 */
export class PeerCertCache {
  private readonly entries = new Map<string, PeerCertificate>();
  readonly issuing: crypto.X509Certificate;

  constructor(issuingDer: Uint8Array, private readonly max = 20_000) {
    this.issuing = new crypto.X509Certificate(issuingDer);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The verdict on `x`, from the cache when this very certificate was seen before. */
  examine(x: crypto.X509Certificate): PeerCertificate {
    // The whole certificate is the key: a forged one with a victim's serial and names differs.
    const key = x.fingerprint256;
    const hit = this.entries.get(key);
    if (hit) {
      // Refresh recency: Map iteration order is insertion order.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const entry = examinePeer(x, this.issuing);
    this.entries.set(key, entry);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }

  /** undefined when the socket has no verified peer certificate (the MQTT listener requires one). */
  lookup(socket: TLSSocket): PeerCertificate | undefined {
    if (!socket.authorized) return undefined;
    const x = socket.getPeerX509Certificate();
    return x ? this.examine(x) : undefined;
  }
}

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
  /** Where leaf verdicts are cached; without one every call examines the leaf afresh. */
  readonly verdicts?: PeerCertCache;
}

export const fingerprint = (der: Uint8Array) => crypto.createHash("sha256").update(der).digest("hex");

/** Parses the configured bootstrap anchors once. */
export const bootstrapAnchors = (ders: readonly Uint8Array[]): ReadonlyMap<string, crypto.X509Certificate> =>
  new Map(ders.map((der) => [fingerprint(der), new crypto.X509Certificate(der)]));

type ChainCert = ReturnType<TLSSocket["getPeerCertificate"]> & { issuerCertificate?: ChainCert };

/** Longest manufacturer chain walked (leaf, intermediates, anchor). */
const MAX_CHAIN = 8;

/** Classifies the client certificate an HTTPS handshake verified (the MQTT listener uses PeerCertCache.lookup). */
export function classifyPeer(socket: TLSSocket, anchors: TrustAnchors, x = socket.getPeerX509Certificate()): HttpsPeer {
  if (!x) return { kind: "none" };
  // OpenSSL verified the chain against our CA list (and checked validity dates and the clientAuth purpose).
  if (!socket.authorized) return { kind: "untrusted", reason: String(socket.authorizationError ?? "unverified") };
  const v = anchors.verdicts ? anchors.verdicts.examine(x) : examinePeer(x, anchors.issuing);
  const facts = v.facts;
  if (!facts) return { kind: "untrusted", reason: "unparseable certificate" };
  if (v.keyWeakness) return { kind: "untrusted", reason: `certificate key proves nothing: ${v.keyWeakness}` };
  if (v.issuedByIssuingCa) return facts.isCA ? { kind: "untrusted", reason: "CA certificate" } : { kind: "gateway", facts, fingerprint: v.fingerprint };
  if (anchors.bootstrap.size === 0) return { kind: "untrusted", reason: "not issued by the gateway's issuing CA" };
  // The chain a client sends may differ between connections: this part is judged per handshake, never cached.
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
  const top = socket.getPeerCertificate(true) as ChainCert;
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
