import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { foreignCa, issuingSigner } from "../../testkit/certs.js";
import { csrFor, rawEst, refusals } from "../helpers/est-tools.js";
import { rsaE1Key } from "../helpers/weak-keys.js";
import { CertSigner, makeIssuer } from "../../pki/signer.js";
import { clientProfile } from "../../enroll/profile.js";
import { attempt } from "./broker-helpers.js";
import { sq } from "../../testkit/registry.js";

/**
 * Issue 11 point 5, at the TLS edges: a device certificate whose key has
 * e = 1 (issued before admission judged keys) authenticates nothing, since the
 * TLS CertificateVerify "signature" under it is just the padded hash, which
 * anyone can compute from the public certificate. Such a certificate must get
 * neither CONNACK 0 nor a renewal.
 */
describe("client certificates with a degenerate key are refused at connect and at re-enrollment", () => {
  const maker = foreignCa("Maker Root");
  let t: TestGateway;
  let forged: { certPem: string; keyPem: string };
  const forgedKey = (k: ReturnType<typeof rsaE1Key>) =>
    crypto.createPrivateKey({ key: { ...k.jwk, e: "AQ", d: "AQ", dp: "AQ", dq: "AQ" }, format: "jwk" }).export({ type: "pkcs8", format: "pem" }).toString();
  before(async () => {
    const dir = tmpDir("fg-weakcert-");
    fs.writeFileSync(`${dir}/maker.pem`, maker.certPem);
    t = await startTestGateway({ "bootstrap-ca": `${dir}/maker.pem` });
    const d = t.gw.deps;
    const k = rsaE1Key();
    const issued = issuingSigner(t.dataDir).sign(clientProfile({ role: "device", name: "dev-e1", now: Date.now(), days: 30, crlUrl: d.ca.crlUrl() }), k.spkiDer);
    sq(d.store).db.transaction(() => {
      sq(d.store).sync.devices.ensure("dev-e1", Date.now());
      sq(d.store).sync.certificates.insert({ serial: issued.serial, role: "device", name: "dev-e1", deviceId: "dev-e1", notBefore: issued.notBefore, notAfter: issued.notAfter, issuedAt: Date.now(), pem: issued.pem });
    }).immediate();
    // OpenSSL needs a private-key structure to sign the handshake; with d = 1 (and dp = dq = 1) its
    // "signature" is the padded hash itself, exactly what anyone holding only the certificate can send.
    forged = { certPem: issued.pem, keyPem: forgedKey(k) };
  });
  after(() => t.close());

  test("MQTT: the TLS handshake's forged signature verifies, but CONNACK is 5", async () => {
    const a = await attempt(t, forged, "dev-e1");
    if (a.kind === "connack" && a.code === 0) a.client.end(true);
    assert.ok(a.kind !== "connack" || a.code !== 0, `must not be admitted: ${JSON.stringify(a.kind === "connack" ? a.code : a)}`);
    assert.equal(a.kind === "connack" && a.code, 5);
    assert.ok(t.logs.lines().some((l) => l.code === "FG_MQTT_CERT_INVALID" && /proves nothing/.test(String(l.reason ?? l.msg))));
  });

  test("EST: simplereenroll with it is refused 401, and nothing is issued", async () => {
    const r = await rawEst(t, "POST", "simplereenroll", { headers: { "content-type": "application/pkcs10" }, body: csrFor("dev-e1").der.toString("base64"), ...forged });
    assert.equal(r.status, 401, r.body);
    assert.match(r.body, /proves nothing/);
    assert.ok(refusals(t, "FG_CLIENT_CERT_INVALID").length > 0);
    assert.equal(sq(t.gw.deps.store).sync.certificates.forDevice("dev-e1").length, 1);
  });

  test("EST: a manufacturer certificate with an e = 1 key cannot enroll (401), whoever presents it", async () => {
    const k = rsaE1Key();
    const rootDer = Buffer.from(new crypto.X509Certificate(maker.certPem).raw);
    const idev = new CertSigner(makeIssuer(rootDer, crypto.createPrivateKey(maker.keyPem)))
      .sign(clientProfile({ role: "device", name: "dev-m-e1", now: Date.now(), days: 30, crlUrl: "https://localhost/crl" }), k.spkiDer);
    const r = await rawEst(t, "POST", "simpleenroll", {
      headers: { "content-type": "application/pkcs10" }, body: csrFor("dev-m-e1").der.toString("base64"), certPem: idev.pem, keyPem: forgedKey(k),
    });
    assert.equal(r.status, 401, r.body);
    assert.match(r.body, /proves nothing/);
    assert.equal(sq(t.gw.deps.store).sync.certificates.forDevice("dev-m-e1").length, 0);
    // The same manufacturer's sound certificates still enroll.
    const good = maker.issue("dev-m-ok");
    const ok = await rawEst(t, "POST", "simpleenroll", {
      headers: { "content-type": "application/pkcs10" }, body: csrFor("dev-m-ok").der.toString("base64"), certPem: good.certPem, keyPem: good.keyPem,
    });
    assert.equal(ok.status, 200, ok.body);
  });
});
