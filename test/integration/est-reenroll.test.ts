import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { foreignCa, issueDirect } from "../../testkit/certs.js";
import { csrFor, rawEst, refusals, token } from "../helpers/est-tools.js";
import { EstClient, EstError } from "../../device-sim/est-client.js";
import { breakCsrSignature } from "../helpers/hostile-csr.js";
import { certFacts } from "../../pki/cert-facts.js";
import { fromPemAll } from "../../pki/der.js";
import { revokeDevice } from "../../enroll/fleet.js";
import { sq } from "../../testkit/registry.js";

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof EstError) return e.status;
    throw e;
  }
}

/** RFC 7030 §4.2.2 re-enrollment with the current certificate, and its refusals. */
describe("EST simplereenroll", () => {
  let t: TestGateway;
  let est: EstClient;
  before(async () => {
    t = await startTestGateway();
    est = new EstClient({ baseUrl: t.estUrl, caPem: t.caPem });
  });
  after(() => t.close());

  async function enrolled(id: string) {
    const k = csrFor(id);
    const certPem = await est.simpleEnroll(k.der, { deviceId: id, token: await token(t, id) });
    return { certPem, keyPem: k.keyPem };
  }

  test("re-enrollment keeps the old certificate valid, and the old one can still re-enroll", async () => {
    const c1 = await enrolled("dev-r1");
    const c2 = await est.simpleReenroll(csrFor("dev-r1").der, c1);
    const c3 = await est.simpleReenroll(csrFor("dev-r1").der, c1);
    const serials = [c1.certPem, c2, c3].map((p) => certFacts(fromPemAll(p)[0]!).serial);
    assert.equal(new Set(serials).size, 3);
    const rows = sq(t.gw.deps.store).sync.certificates.forDevice("dev-r1");
    assert.deepEqual(rows.map((r) => r.serial).sort(), [...serials].sort());
    assert.ok(rows.every((r) => r.status === "valid"));
  });

  test("a CSR whose subject differs from the certificate's is refused 403", async () => {
    const c = await enrolled("dev-r2");
    assert.equal(await status(est.simpleReenroll(csrFor("dev-other").der, c)), 403);
    assert.equal(await status(est.simpleReenroll(csrFor("dev-r2", { extraSubject: [["2.5.4.10", "Org"]] }).der, c)), 403);
    // Proof of possession is judged first: a broken signature is 400 whatever the subject says.
    assert.equal(await status(est.simpleReenroll(breakCsrSignature(csrFor("dev-other").der), c)), 400);
    assert.ok(refusals(t, "FG_CSR_SUBJECT_MISMATCH").length >= 2);
    assert.equal(sq(t.gw.deps.store).sync.certificates.forDevice("dev-r2").length, 1);
  });

  test("without a client certificate: 401 with WWW-Authenticate", async () => {
    const r = await rawEst(t, "POST", "simplereenroll", { headers: { "content-type": "application/pkcs10" }, body: csrFor("dev-r3").der.toString("base64") });
    assert.equal(r.status, 401);
    assert.equal(r.headers["www-authenticate"], 'Basic realm="est"');
  });

  test("after the device is revoked: 403, and nothing is issued", async () => {
    const c = await enrolled("dev-r4");
    await revokeDevice(t.gw.deps, "dev-r4", "keyCompromise", "test");
    assert.equal(await status(est.simpleReenroll(csrFor("dev-r4").der, c)), 403);
    assert.ok(refusals(t, "FG_CERT_REVOKED").some((l) => l.deviceId === "dev-r4"));
    assert.equal(sq(t.gw.deps.store).sync.certificates.forDevice("dev-r4").length, 1);
  });

  test("certificates that are not a current registered device certificate are refused", async () => {
    const d = t.gw.deps;
    const expired = issueDirect(d, "dev-old", { days: 30, ageDays: 40 });
    const unregistered = issueDirect(d, "dev-ghost", { register: false });
    const adminCred = { certPem: fs.readFileSync(t.paths.adminCert, "utf8"), keyPem: fs.readFileSync(t.paths.adminKey, "utf8") };
    const foreign = foreignCa().issue("dev-f");
    assert.equal(await status(est.simpleReenroll(csrFor("dev-old").der, expired)), 401); // TLS verification fails on dates
    assert.equal(await status(est.simpleReenroll(csrFor("dev-ghost").der, unregistered)), 403);
    assert.equal(await status(est.simpleReenroll(csrFor("admin").der, adminCred)), 403);
    assert.equal(await status(est.simpleReenroll(csrFor("dev-f").der, foreign)), 401);
    assert.ok(refusals(t, "FG_CERT_UNKNOWN").length > 0);
    assert.ok(refusals(t, "FG_ROLE_FORBIDDEN").length > 0);
    assert.ok(refusals(t, "FG_CLIENT_CERT_INVALID").length > 0);
    // A device certificate is no credential for initial enrollment either.
    const c = await enrolled("dev-r5");
    assert.equal(await status(est.simpleEnroll(csrFor("dev-r5").der, c)), 401);
    assert.equal((await est.cacerts()).length, 2);
  });
});

/** Initial enrollment with a manufacturer (IDevID-style) certificate chaining to --bootstrap-ca. */
describe("EST simpleenroll with a manufacturer certificate", () => {
  const maker = foreignCa("Maker Root");
  let t: TestGateway;
  let est: EstClient;
  before(async () => {
    const dir = tmpDir("fg-bootstrap-");
    fs.writeFileSync(`${dir}/maker.pem`, maker.certPem);
    t = await startTestGateway({ "bootstrap-ca": `${dir}/maker.pem` });
    est = new EstClient({ baseUrl: t.estUrl, caPem: t.caPem });
  });
  after(() => t.close());

  test("a certificate from the trusted bootstrap CA enrolls its CN", async () => {
    const idev = maker.issue("dev-m1");
    const pem = await est.simpleEnroll(csrFor("dev-m1").der, idev);
    const f = certFacts(fromPemAll(pem)[0]!);
    assert.equal(f.commonName, "dev-m1");
    assert.equal(f.role, "device");
    const audit = sq(t.gw.deps.store).sync.audit.forDevice("dev-m1", 5);
    assert.equal(audit[0]?.type, "enroll.simpleenroll");
    assert.equal(audit[0]?.detail?.method, "bootstrap");
  });

  test("the CSR CN must equal the manufacturer certificate's CN (403)", async () => {
    assert.equal(await status(est.simpleEnroll(csrFor("dev-other").der, maker.issue("dev-m2"))), 403);
  });

  test("a manufacturer certificate from an untrusted CA is refused 401", async () => {
    const rogue = foreignCa("Rogue Maker").issue("dev-m3");
    assert.equal(await status(est.simpleEnroll(csrFor("dev-m3").der, rogue)), 401);
    assert.ok(refusals(t, "FG_BOOTSTRAP_UNTRUSTED").length > 0);
    assert.equal(sq(t.gw.deps.store).sync.devices.get("dev-m3"), undefined);
  });

  test("a manufacturer certificate whose CN is no valid device id is refused 401", async () => {
    assert.equal(await status(est.simpleEnroll(csrFor("x").der, maker.issue("bad id!"))), 401);
    assert.ok(refusals(t, "FG_CLIENT_CERT_INVALID").some((l) => /not a valid device id/.test(String(l.msg))));
  });

  test("a revoked device cannot come back with its manufacturer certificate (403)", async () => {
    const idev = maker.issue("dev-m4");
    await est.simpleEnroll(csrFor("dev-m4").der, idev);
    await revokeDevice(t.gw.deps, "dev-m4", "keyCompromise", "test");
    assert.equal(await status(est.simpleEnroll(csrFor("dev-m4").der, idev)), 403);
  });
});
