/**
 * HTTPS peer classification (pki/peer.ts) is by signature, never by names:
 * the socket is a stand-in for what node:tls reports (authorized, the peer
 * certificate and its presented chain), as after a TLS 1.2 renegotiation where
 * `authorized` still describes the first handshake.
 */
import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { classifyPeer, bootstrapAnchors, fingerprint, PeerCertCache, type TrustAnchors } from "../../pki/peer.js";
import { ensurePki } from "../../enroll/pki.js";
import { CertSigner, makeIssuer, selfIssuer } from "../../pki/signer.js";
import { caProfile, clientProfile } from "../../enroll/profile.js";
import type { Role } from "../../db/types.js";
import { silentLogger } from "../../log.js";
import { newEcKey } from "../../testkit/certs.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fg-peer-"));
const pki = ensurePki({ dataDir: dir, hostnames: ["localhost"], curve: "P-256", clock: Date.now, log: silentLogger() });
const NOW = Date.now();

/** A CA: its certificate and a signer with its name, key identifier and key. */
function ca(name: string, parent?: { signer: CertSigner }) {
  const k = newEcKey();
  const signer = new CertSigner(selfIssuer(name, k.privateKey, k.spkiDer));
  const cert = (parent?.signer ?? signer).sign(caProfile({ name, now: NOW, days: 30 }), k.spkiDer, { selfSigned: !parent });
  return { signer, der: cert.der, key: k.privateKey };
}
const leaf = (signer: CertSigner, name: string, role: Role = "device") => signer.sign(clientProfile({ role, name, now: NOW, days: 30, crlUrl: "https://localhost/crl" }), newEcKey().spkiDer).der;

type Link = { raw: Buffer; issuerCertificate?: Link };
/** What node:tls would report for a verified handshake presenting `chain` (leaf first). */
function socket(chain: Buffer[]): TLSSocket {
  const links: Link[] = chain.map((raw) => ({ raw }));
  links.forEach((l, i) => (l.issuerCertificate = links[i + 1] ?? l));
  return {
    authorized: true,
    authorizationError: null,
    getPeerX509Certificate: () => new crypto.X509Certificate(chain[0]!),
    getPeerCertificate: () => links[0],
  } as unknown as TLSSocket;
}

const issuingKey = crypto.createPrivateKey(fs.readFileSync(pki.paths.issuingKey));
const issuingSigner = new CertSigner(makeIssuer(pki.issuingDer, issuingKey));
const forger = new CertSigner({ ...makeIssuer(pki.issuingDer, issuingKey), key: newEcKey().privateKey });
const maker = ca("Maker Root");
const makerSub = ca("Maker Sub", maker);
const anchors = (bootstrap: Buffer[] = [maker.der]): TrustAnchors => ({ issuing: new crypto.X509Certificate(pki.issuingDer), bootstrap: bootstrapAnchors(bootstrap) });

test("a certificate signed by the issuing CA is the gateway's, and names the very certificate", () => {
  const der = leaf(issuingSigner, "d1");
  const p = classifyPeer(socket([der, pki.issuingDer, pki.rootDer]), anchors());
  assert.equal(p.kind, "gateway");
  assert.equal(p.kind === "gateway" && p.fingerprint, fingerprint(der));
});

test("a forgery with the issuing CA's name and key identifier (admin policy) is untrusted", () => {
  const der = leaf(forger, "admin", "admin");
  assert.equal(new crypto.X509Certificate(der).checkIssued(new crypto.X509Certificate(pki.issuingDer)), true, "names and AKI match");
  assert.equal(classifyPeer(socket([der, pki.issuingDer, pki.rootDer]), anchors()).kind, "untrusted");
});

test("bootstrap: a leaf signed by the anchor, or through an intermediate CA, is a manufacturer certificate", () => {
  assert.equal(classifyPeer(socket([leaf(maker.signer, "m1"), maker.der]), anchors()).kind, "bootstrap");
  assert.equal(classifyPeer(socket([leaf(makerSub.signer, "m2"), makerSub.der, maker.der]), anchors()).kind, "bootstrap");
});

test("bootstrap: a self-signed leaf presenting the anchor in its chain is untrusted", () => {
  const fake = ca("Maker Root"); // same name as the anchor, another key
  assert.equal(classifyPeer(socket([leaf(fake.signer, "m3"), maker.der]), anchors()).kind, "untrusted");
  assert.equal(classifyPeer(socket([leaf(fake.signer, "m3"), fake.der]), anchors()).kind, "untrusted");
});

test("bootstrap: an intermediate that the anchor did not sign, or that is not a CA, breaks the chain", () => {
  const rogueSub = ca("Maker Sub"); // self-signed copy of the intermediate's name
  assert.equal(classifyPeer(socket([leaf(rogueSub.signer, "m4"), rogueSub.der, maker.der]), anchors()).kind, "untrusted");
  // A leaf certificate (CA:FALSE) the anchor did sign, used to sign another leaf.
  const k = newEcKey();
  const notCa = maker.signer.sign(clientProfile({ role: "device", name: "m5", now: NOW, days: 30, crlUrl: "https://localhost/crl" }), k.spkiDer).der;
  const underLeaf = new CertSigner({ ...makeIssuer(notCa, k.privateKey) });
  assert.equal(classifyPeer(socket([leaf(underLeaf, "m6"), notCa, maker.der]), anchors()).kind, "untrusted");
});

test("no bootstrap anchors configured: a manufacturer chain is untrusted", () => {
  assert.equal(classifyPeer(socket([leaf(maker.signer, "m7"), maker.der]), anchors([])).kind, "untrusted");
});

test("one classification for both listeners: the HTTPS classification and the MQTT lookup agree and, given one cache, share its entry, keyed by the whole certificate", () => {
  const verdicts = new PeerCertCache(pki.issuingDer);
  const withCache: TrustAnchors = { ...anchors(), verdicts };
  const real = leaf(issuingSigner, "d9");
  const twin = leaf(forger, "d9");
  const https = classifyPeer(socket([real, pki.issuingDer, pki.rootDer]), withCache);
  assert.equal(https.kind, "gateway");
  assert.equal(verdicts.size, 1);
  const mqtt = verdicts.lookup(socket([real, pki.issuingDer, pki.rootDer]));
  assert.equal(verdicts.size, 1, "the second listener hit the same entry");
  assert.equal(mqtt?.issuedByIssuingCa, true);
  assert.equal(https.kind === "gateway" && https.fingerprint, mqtt?.fingerprint);
  // A forged twin (same names, same CN) is its own certificate with its own verdict.
  assert.equal(classifyPeer(socket([twin, pki.issuingDer, pki.rootDer]), withCache).kind, "untrusted");
  assert.equal(verdicts.size, 2);
  assert.equal(verdicts.lookup(socket([twin, pki.issuingDer, pki.rootDer]))?.issuedByIssuingCa, false);
});
