import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { certFacts } from "../../pki/cert-facts.js";
import { children, readWhole } from "../../pki/der-reader.js";
import { derBitString, derSequence } from "../../pki/der.js";
import { signBytes, sigAlgFor } from "../../pki/algorithms.js";
import { CertSigner, selfIssuer } from "../../pki/signer.js";
import { clientProfile } from "../../enroll/profile.js";
import { examinePeer } from "../../pki/peer.js";
import { identify } from "../../broker/identity.js";
import { newEcKey } from "../../testkit/certs.js";
import { referenceCertFacts } from "../helpers/reference-cert-facts.js";

const ca = newEcKey();
const issuer = selfIssuer("Facts CA", ca.privateKey, ca.spkiDer);
const caCert = new crypto.X509Certificate(new CertSigner(issuer).sign({ subjectCN: "Facts CA", notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000), ca: true, keyUsage: ["keyCertSign", "cRLSign"], extKeyUsage: [], policies: [] }, ca.spkiDer, { selfSigned: true }).der);
const leafDer = () => new CertSigner(issuer).sign(clientProfile({ role: "device", name: "dev-1", now: Date.now(), days: 30, crlUrl: "https://localhost/crl" }), newEcKey().spkiDer).der;

/** Re-encodes one TBSCertificate field with a long-form length where the short form was required (X.690 §10.1), and signs it again. */
function withNonMinimalLength(der: Buffer, field: number): Buffer {
  const cert = readWhole(der, 0x30)!;
  const [tbs, alg] = children(der, cert)!;
  const fields = children(der, tbs!)!;
  const parts = fields.map((f, i) => {
    const whole = der.subarray(f.at, f.end);
    if (i !== field) return whole;
    const len = f.end - f.start;
    assert.ok(len < 0x80, "the field must use the short form to be re-encoded");
    return Buffer.concat([Buffer.from([f.tag, 0x81, len]), der.subarray(f.start, f.end)]);
  });
  const newTbs = derSequence(...parts);
  return derSequence(newTbs, der.subarray(alg!.at, alg!.end), derBitString(signBytes(sigAlgFor(ca.privateKey), ca.privateKey, newTbs)));
}

test("certFacts agrees with the generic ASN.1 parse on an issued certificate", () => {
  const der = leafDer();
  const f = certFacts(der);
  const r = referenceCertFacts(der);
  assert.deepEqual({ ...f, subject: [...f.subject], extKeyUsage: [...f.extKeyUsage] }, { ...r, subject: [...r.subject], extKeyUsage: [...r.extKeyUsage] });
});

test("certFacts refuses a non-minimal DER length that OpenSSL tolerates, and the MQTT identity refuses the certificate", () => {
  const good = leafDer();
  let reached = 0;
  // TBSCertificate fields: [0] version, serialNumber, signature, issuer, validity, subject, ...
  for (const field of [1, 4, 5]) {
    const bad = withNonMinimalLength(good, field);
    let x: crypto.X509Certificate;
    try {
      x = new crypto.X509Certificate(bad);
    } catch {
      continue; // OpenSSL itself refused this spelling: nothing reaches the facts reader
    }
    reached++;
    assert.equal(x.verify(caCert.publicKey), true, "the re-encoded certificate carries a valid signature");
    assert.throws(() => certFacts(bad), `field ${field}: non-minimal length must be refused`);
    const verdict = examinePeer(x, caCert);
    assert.equal(verdict.facts, undefined);
    const r = identify(verdict, Date.now());
    assert.ok(!r.ok && r.code === "FG_MQTT_CERT_INVALID", JSON.stringify(r));
  }
  assert.ok(reached > 0, "OpenSSL accepts at least one non-minimal spelling, so the strict reader is what refuses it");
});
