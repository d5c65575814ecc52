import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { X509Certificate as NodeX509 } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { CertificateAuthority } from "../../enroll/ca.js";
import { CertSigner, makeIssuer, randomSerial } from "../../pki/signer.js";
import { caProfile, clientProfile, BACKDATE_MS } from "../../enroll/profile.js";
import { parseCsr } from "../../pki/csr.js";
import { admitCsr } from "../../enroll/admission.js";
import { buildCsr, breakCsrSignature } from "../helpers/hostile-csr.js";
import { certFacts } from "../../pki/cert-facts.js";
import { ROLE_POLICY_OIDS } from "../../pki/roles.js";
import { foreignCa, newEcKey } from "../../testkit/certs.js";

/** A throwaway CA built with the same code the gateway uses, no files or DB. */
function testCa(now = Date.now()) {
  const root = foreignCa("Unit Root");
  const rootKey = crypto.createPrivateKey(root.keyPem);
  const issuing = newEcKey();
  const rootDer = Buffer.from(new NodeX509(root.certPem).raw);
  const issuingCert = new CertSigner(makeIssuer(rootDer, rootKey)).sign(caProfile({ name: "Unit Issuing", now, days: 100, pathLen: 0 }), issuing.spkiDer);
  return new CertificateAuthority({
    root: { certDer: rootDer },
    issuing: { certDer: issuingCert.der, key: issuing.privateKey },
    certDays: 30,
    clock: () => now,
    crlUrl: () => "https://gw.example:8443/crl",
  });
}

test("a CSR asking for CA:TRUE and keyCertSign still gets CA:FALSE and digitalSignature only", () => {
  const ca = testCa();
  const k = newEcKey();
  const csr = parseCsr(buildCsr({ cn: "dev-1", privateKey: k.privateKey, requestCa: true }));
  assert.deepEqual(admitCsr(csr.facts, "dev-1"), { ok: true });
  const issued = ca.issueClient("device", "dev-1", csr.spkiDer);
  const cert = new x509.X509Certificate(issued.der);
  const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
  assert.equal(bc.ca, false);
  assert.equal(bc.critical, true);
  const ku = cert.getExtension(x509.KeyUsagesExtension)!;
  assert.equal(ku.usages, x509.KeyUsageFlags.digitalSignature);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)!;
  assert.deepEqual([...eku.usages], ["1.3.6.1.5.5.7.3.2"]);
  assert.equal(cert.subject, "CN=dev-1");
  assert.ok(cert.getExtension(x509.SubjectKeyIdentifierExtension));
  assert.equal(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, ca.keyId);
  const cdp = cert.getExtension(x509.CRLDistributionPointsExtension)!;
  assert.equal(cdp.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier, "https://gw.example:8443/crl");
  assert.equal(certFacts(issued.der).role, "device");
  // The issued certificate verifies against the issuing CA with node's own X.509 code.
  assert.ok(new NodeX509(issued.der).verify(new NodeX509(ca.issuingDer).publicKey));
});

test("validity is --cert-days, notBefore backdated for clock skew", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const t = clientProfile({ role: "device", name: "d", now, days: 30, crlUrl: "https://x/crl" });
  assert.equal(t.notBefore.getTime(), now - BACKDATE_MS);
  assert.equal(t.notAfter.getTime(), now + 30 * 86_400_000);
  assert.equal(t.ca, false);
  assert.deepEqual(t.policies, [ROLE_POLICY_OIDS.device]);
});

test("serials are random, positive, 16 bytes, never repeating", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const s = randomSerial();
    assert.equal(s.length, 16);
    assert.ok(s[0]! >= 0x40 && s[0]! <= 0x7f);
    seen.add(s.toString("hex"));
  }
  assert.equal(seen.size, 2000);
});

test("proof of possession: a CSR with a broken signature is not admitted", () => {
  const k = newEcKey();
  const csr = parseCsr(breakCsrSignature(buildCsr({ cn: "dev-1", privateKey: k.privateKey })));
  const d = admitCsr(csr.facts, "dev-1");
  assert.equal(d.ok, false);
  assert.equal(!d.ok && d.code, "FG_CSR_SIGNATURE_INVALID");
});

const keys: [string, () => crypto.KeyObject, boolean][] = [
  ["EC P-256", () => crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey, true],
  ["EC P-384", () => crypto.generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey, true],
  ["RSA 2048", () => crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey, true],
  ["Ed25519", () => crypto.generateKeyPairSync("ed25519").privateKey, true],
  ["RSA 1024", () => crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey, false],
  ["EC P-192", () => crypto.generateKeyPairSync("ec", { namedCurve: "prime192v1" }).privateKey, false],
];
for (const [name, gen, ok] of keys) {
  test(`real CSR with ${name} key is ${ok ? "admitted" : "refused as weak"}`, () => {
    const csr = parseCsr(buildCsr({ cn: "dev-1", privateKey: gen() }));
    assert.equal(csr.facts.signatureValid, true, "signature verifies");
    const d = admitCsr(csr.facts, "dev-1");
    assert.equal(d.ok, ok);
    if (!d.ok) assert.equal(d.code, "FG_CSR_KEY_UNSUPPORTED");
  });
}

test("garbage is FG_CSR_MALFORMED", () => {
  for (const g of [Buffer.alloc(0), Buffer.from("hello"), Buffer.from([0x30, 0x82, 0xff, 0xff]), crypto.randomBytes(300)]) {
    assert.throws(() => parseCsr(g), (e: unknown) => (e as { code?: string }).code === "FG_CSR_MALFORMED");
  }
});

test("the CSR reader agrees with @peculiar/x509 on subject and key, and is strict about framing", () => {
  const k = newEcKey("secp384r1");
  const der = buildCsr({ cn: "dev-ä1", privateKey: k.privateKey, extraSubject: [["2.5.4.10", "Acme"]] });
  const ours = parseCsr(der);
  const ref = new x509.Pkcs10CertificateRequest(der);
  assert.equal(ref.subject, "CN=dev-ä1, O=Acme");
  assert.deepEqual(ours.facts.subject, [{ type: "2.5.4.3", value: "dev-ä1" }, { type: "2.5.4.10", value: "Acme" }]);
  assert.deepEqual({ ...ours.facts.key, point: undefined }, { type: "ec", curve: "secp384r1", point: undefined });
  assert.deepEqual(Buffer.from(ours.facts.key.point!), k.spkiDer.subarray(-97));
  assert.equal(Buffer.from(ref.publicKey.rawData).equals(ours.spkiDer), true, "SPKI bytes copied exactly");
  assert.equal(ours.facts.signatureValid, true);
  // Trailing bytes after the request, or a truncated request, are not a CSR.
  assert.throws(() => parseCsr(Buffer.concat([der, Buffer.from([0])])), /CSR is not a valid PKCS#10/);
  assert.throws(() => parseCsr(der.subarray(0, der.length - 1)), /CSR is not a valid PKCS#10/);
});
