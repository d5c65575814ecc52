import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { foreignCa } from "../../testkit/certs.js";
import { basic, csrFor, rawEst, refusals, token, type RawReply } from "../helpers/est-tools.js";
import { buildCsr } from "../helpers/hostile-csr.js";
import { EstClient } from "../../device-sim/est-client.js";
import { certFacts } from "../../pki/cert-facts.js";
import { fromPemAll } from "../../pki/der.js";
import { getDevice, revokeDevice } from "../../enroll/fleet.js";
import { attempt, closed, connect } from "./broker-helpers.js";
import { sq } from "../../testkit/registry.js";

/**
 * Issue 11 point 5, over real EST: one public key is certified for one identity
 * only (also under concurrency), a device's renewals are rate-limited (429 with
 * Retry-After), and a device never holds more than 3 valid certificates (the
 * one expiring first is superseded, and sessions on it are closed).
 */
describe("EST issuance bounds", () => {
  const maker = foreignCa("Maker Root");
  let t: TestGateway;
  let est: EstClient;
  before(async () => {
    const dir = tmpDir("fg-bounds-");
    fs.writeFileSync(`${dir}/maker.pem`, maker.certPem);
    t = await startTestGateway({ "bootstrap-ca": `${dir}/maker.pem` });
    est = new EstClient({ baseUrl: t.estUrl, caPem: t.caPem });
  });
  after(() => t.close());

  const pem = (k: crypto.KeyObject) => k.export({ type: "pkcs8", format: "pem" }).toString();
  const serialOf = (certPem: string) => certFacts(fromPemAll(certPem)[0]!).serial;
  const byToken = (id: string, tok: string, der: Buffer) =>
    rawEst(t, "POST", "simpleenroll", { headers: { "content-type": "application/pkcs10", authorization: basic(id, tok) }, body: der.toString("base64") });
  const reenroll = (cred: { certPem: string; keyPem: string }, der: Buffer) =>
    rawEst(t, "POST", "simplereenroll", { headers: { "content-type": "application/pkcs10" }, body: der.toString("base64"), ...cred });
  const certOf = (r: RawReply) => {
    assert.equal(r.status, 200, r.body);
    return r.body;
  };
  async function enrolled(id: string, key = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey) {
    const certPem = await est.simpleEnroll(buildCsr({ cn: id, privateKey: key }), { deviceId: id, token: await token(t, id) });
    return { certPem, keyPem: pem(key), key };
  }

  describe("one public key, one identity", () => {
    test("a key certified for one device is refused (409) for another, whatever that certificate's status; the token survives", async () => {
      const a = await enrolled("dev-k1");
      const tok = await token(t, "dev-k2");
      const r = await byToken("dev-k2", tok, buildCsr({ cn: "dev-k2", privateKey: a.key }));
      assert.equal(r.status, 409, r.body);
      assert.doesNotMatch(r.body, /dev-k1/, "the other identity is not named");
      assert.ok(refusals(t, "FG_CSR_KEY_REUSED").some((l) => l.deviceId === "dev-k2"));
      assert.equal(sq(t.gw.deps.store).sync.certificates.forDevice("dev-k2").length, 0);
      // Still refused once dev-k1 is revoked: a key is never handed on.
      await revokeDevice(t.gw.deps, "dev-k1", "keyCompromise", "test");
      assert.equal((await byToken("dev-k2", tok, buildCsr({ cn: "dev-k2", privateKey: a.key }))).status, 409);
      // The token was not consumed by the refusals.
      assert.equal((await byToken("dev-k2", tok, csrFor("dev-k2").der)).status, 200);
    });

    test("the same device may renew with the same key (RFC 7030 §4.2.2)", async () => {
      const a = await enrolled("dev-k3");
      const again = pemFromP7(certOf(await reenroll(a, buildCsr({ cn: "dev-k3", privateKey: a.key }))));
      assert.notEqual(serialOf(again), serialOf(a.certPem));
    });

    test("the admin credential's key cannot be certified for a device", async () => {
      const adminKey = crypto.createPrivateKey(fs.readFileSync(t.paths.adminKey, "utf8"));
      const r = await byToken("dev-k4", await token(t, "dev-k4"), buildCsr({ cn: "dev-k4", privateKey: adminKey }));
      assert.equal(r.status, 409, r.body);
    });

    test("nor through a manufacturer certificate", async () => {
      const a = await enrolled("dev-k5");
      const idev = maker.issue("dev-k6");
      const r = await rawEst(t, "POST", "simpleenroll", {
        headers: { "content-type": "application/pkcs10" }, body: buildCsr({ cn: "dev-k6", privateKey: a.key }).toString("base64"), certPem: idev.certPem, keyPem: idev.keyPem,
      });
      assert.equal(r.status, 409, r.body);
    });

    test("concurrent enrollments of one key for several devices: exactly one wins, per key", async () => {
      for (let round = 0; round < 5; round++) {
        const key = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
        const ids = [0, 1, 2, 3].map((i) => `dev-race-${round}-${i}`);
        const toks = await Promise.all(ids.map((id) => token(t, id)));
        const replies = await Promise.all(ids.map((id, i) => byToken(id, toks[i]!, buildCsr({ cn: id, privateKey: key }))));
        const statuses = replies.map((r) => r.status).sort();
        assert.deepEqual(statuses, [200, 409, 409, 409], `round ${round}: ${replies.map((r) => r.body).join(" | ")}`);
        const owners = ids.filter((id) => sq(t.gw.deps.store).sync.certificates.forDevice(id).length > 0);
        assert.equal(owners.length, 1);
      }
    });
  });

  describe("renewal rate and the cap on valid certificates", () => {
    test("back-to-back renewals: 10 certificates per hour, then 429 with Retry-After; never more than 3 valid", async () => {
      const c = await enrolled("dev-burst");
      const replies: RawReply[] = [];
      // Each renewal presents the newest certificate, as a device would.
      let cred: { certPem: string; keyPem: string } = c;
      for (let i = 0; i < 30; i++) {
        const k = csrFor("dev-burst");
        const r = await reenroll(cred, k.der);
        replies.push(r);
        if (r.status === 200) cred = { certPem: pemFromP7(r.body), keyPem: k.keyPem };
      }
      // And a concurrent wave on top.
      replies.push(...await Promise.all(Array.from({ length: 8 }, () => reenroll(cred, csrFor("dev-burst").der))));
      const ok = replies.filter((r) => r.status === 200).length;
      const limited = replies.filter((r) => r.status === 429);
      assert.equal(ok, 9, "the token enrollment plus 9 renewals make 10 in the hour");
      assert.ok(limited.length >= 20, `${limited.length} refused with 429`);
      for (const r of limited) {
        const ra = Number(r.headers["retry-after"]);
        assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 3600, `Retry-After ${r.headers["retry-after"]}`);
      }
      assert.ok(refusals(t, "FG_RENEWAL_RATE").some((l) => l.deviceId === "dev-burst"));
      const rows = sq(t.gw.deps.store).sync.certificates.forDevice("dev-burst");
      assert.equal(rows.length, 10);
      assert.equal(rows.filter((r) => r.status === "valid").length, 3);
      const view = await getDevice(t.gw.deps.store, "dev-burst", Date.now());
      assert.equal(view.certificates.filter((x) => x.status === "superseded").length, 7);
      // The superseded certificates are on the CRL with reason superseded.
      const crl = sq(t.gw.deps.store).sync.certificates.revokedUnexpired(Date.now()).filter((r) => r.deviceId === "dev-burst");
      assert.equal(crl.length, 7);
      assert.ok(crl.every((r) => r.revocationReason === "superseded"));
    });

    test("a manufacturer certificate cannot mint certificates without limit either", async () => {
      const idev = maker.issue("dev-m-burst");
      const statuses: number[] = [];
      for (let i = 0; i < 14; i++) {
        const r = await rawEst(t, "POST", "simpleenroll", {
          headers: { "content-type": "application/pkcs10" }, body: csrFor("dev-m-burst").der.toString("base64"), certPem: idev.certPem, keyPem: idev.keyPem,
        });
        statuses.push(r.status);
      }
      assert.deepEqual(statuses, [...Array<number>(10).fill(200), ...Array<number>(4).fill(429)]);
      assert.equal(sq(t.gw.deps.store).sync.certificates.forDevice("dev-m-burst").filter((r) => r.status === "valid").length, 3);
    });

    test("a superseded certificate's MQTT session is closed and it can no longer renew; the newest one connects", async () => {
      const c1 = await enrolled("dev-cap");
      const s1 = await connect(t, c1, "dev-cap");
      const gone = closed(s1, 15_000);
      // Renewing with the newest certificate each time: the fourth certificate supersedes the first.
      let last = c1 as { certPem: string; keyPem: string };
      for (let i = 0; i < 3; i++) {
        const k = csrFor("dev-cap");
        const r = await reenroll(last, k.der);
        assert.equal(r.status, 200, r.body);
        last = { certPem: pemFromP7(r.body), keyPem: k.keyPem };
      }
      await gone;
      assert.equal((await reenroll(c1, csrFor("dev-cap").der)).status, 403);
      const row = sq(t.gw.deps.store).sync.certificates.get(serialOf(c1.certPem))!;
      assert.equal(row.revocationReason, "superseded");
      const audit = sq(t.gw.deps.store).sync.audit.forDevice("dev-cap", 10).find((e) => e.type === "enroll.simplereenroll" && Array.isArray(e.detail?.superseded));
      assert.deepEqual(audit?.detail?.superseded, [row.serial]);
      const a = await attempt(t, last, "dev-cap");
      assert.equal(a.kind === "connack" && a.code, 0);
      if (a.kind === "connack") a.client.end(true);
    });

    test("the certificate a renewal presents is never the one superseded (a lost answer can be retried)", async () => {
      const c1 = await enrolled("dev-keep");
      // Three renewals all presenting the first certificate, as a device whose answers were lost would.
      const issued: string[] = [];
      for (let i = 0; i < 3; i++) issued.push(serialFromP7(certOf(await reenroll(c1, csrFor("dev-keep").der))));
      const status = new Map(sq(t.gw.deps.store).sync.certificates.forDevice("dev-keep").map((r) => [r.serial, r.revocationReason ?? r.status]));
      assert.equal(status.get(serialOf(c1.certPem)), "valid");
      assert.equal(status.get(issued[0]!), "superseded");
      assert.equal(status.get(issued[1]!), "valid");
      assert.equal(status.get(issued[2]!), "valid");
      // And it still renews.
      assert.equal((await reenroll(c1, csrFor("dev-keep").der)).status, 200);
    });
  });
});

/** The first certificate of a base64 certs-only PKCS#7, as PEM (the raw EST answer). */
function pemFromP7(b64: string): string {
  const der = Buffer.from(b64.replace(/\s+/g, ""), "base64");
  // certs-only SignedData: find the first certificate SEQUENCE by trying X509Certificate at each 0x30 0x82 offset.
  for (let i = 0; i + 4 < der.length; i++) {
    if (der[i] !== 0x30 || der[i + 1] !== 0x82) continue;
    try {
      return new crypto.X509Certificate(der.subarray(i, i + 4 + der.readUInt16BE(i + 2))).toString();
    } catch {
      // not a certificate at this offset
    }
  }
  throw new Error("no certificate in the answer");
}


function serialFromP7(b64: string): string {
  return certFacts(fromPemAll(pemFromP7(b64))[0]!).serial;
}
