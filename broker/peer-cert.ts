import crypto from "node:crypto";
import type { TLSSocket } from "node:tls";
import { peerFacts } from "./peer-facts.js";
import { certificateKeyWeakness } from "../pki/key-strength.js";
import type { PeerCertificate } from "./identity.js";
import { certFingerprint, signedBy } from "../pki/signed-by.js";

/**
 * Peer certificate facts, cached per certificate fingerprint in a bounded LRU so
 * a reconnecting client costs a hash-table hit instead of reading the
 * certificate again. Uses getPeerX509Certificate(), which wraps the certificate
 * OpenSSL already parsed; getPeerCertificate(true) builds the whole chain as JS
 * objects and costs about 0.5 ms per call.
 */
export class PeerCertCache {
  private readonly entries = new Map<string, PeerCertificate>();
  private readonly issuing: crypto.X509Certificate;

  constructor(issuingDer: Uint8Array, private readonly max = 20_000) {
    this.issuing = new crypto.X509Certificate(issuingDer);
  }

  get size(): number {
    return this.entries.size;
  }

  /** undefined when the socket has no verified peer certificate. */
  lookup(socket: TLSSocket): PeerCertificate | undefined {
    if (!socket.authorized) return undefined;
    const x = socket.getPeerX509Certificate();
    if (!x) return undefined;
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
}

/**
 * The facts of a leaf that OpenSSL verified against a chain to one of our anchors
 * (root or issuing). The direct issuer must be the issuing CA, proven by the
 * leaf's SIGNATURE under the issuing CA's key, not by names: the issuer name
 * and authority key identifier (X509_check_issued) are only a pre-filter, since
 * anybody can copy them into a self-made certificate. The verdict is cached per
 * whole certificate (its fingerprint), never per serial or name.
 */
export function examinePeer(x: crypto.X509Certificate, issuing: crypto.X509Certificate): PeerCertificate {
  let facts: PeerCertificate["facts"];
  try {
    facts = peerFacts(x);
  } catch {
    facts = undefined;
  }
  const issuedByIssuingCa = signedBy(x, issuing);
  // Judged once per certificate: the entry is cached by fingerprint.
  const keyWeakness = certificateKeyWeakness(x.raw);
  return Object.freeze({ facts, issuedByIssuingCa, fingerprint: certFingerprint(x), ...(keyWeakness ? { keyWeakness } : {}) });
}
