import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { basic, csrFor, rawEst, refusals, token } from "../helpers/est-tools.js";
import { buildCsr } from "../helpers/hostile-csr.js";
import { EstClient } from "../../device-sim/est-client.js";
import {
  ED25519_IDENTITY, ED25519_IDENTITY_P_PLUS_1, ED25519_IDENTITY_SIGNED, forgedEd25519Csr, forgedRsaE1Csr, infinityCsr,
} from "../helpers/weak-keys.js";
import { sq } from "../../testkit/registry.js";

/**
 * Issue 11 point 5: keys under which anyone can forge the CSR's proof of
 * possession are refused over real EST with 400 and FG_CSR_KEY_WEAK, nothing is
 * recorded, the token is not consumed; sound keys of every accepted type pass.
 */
describe("EST refuses keys whose signatures prove nothing", () => {
  let t: TestGateway;
  let est: EstClient;
  before(async () => {
    t = await startTestGateway();
    est = new EstClient({ baseUrl: t.estUrl, caPem: t.caPem });
  });
  after(() => t.close());

  const enroll = (id: string, tok: string, der: Buffer) =>
    rawEst(t, "POST", "simpleenroll", { headers: { "content-type": "application/pkcs10", authorization: basic(id, tok) }, body: der.toString("base64") });

  async function refusedWeak(id: string, der: Buffer, reason: RegExp) {
    const tok = await token(t, id);
    const r = await enroll(id, tok, der);
    assert.equal(r.status, 400, `${id}: ${r.body}`);
    assert.match(r.body, reason, id);
    assert.ok(refusals(t, "FG_CSR_KEY_WEAK").some((l) => l.deviceId === id), `${id} refusal logged`);
    assert.equal(sq(t.gw.deps.store).sync.certificates.forDevice(id).length, 0, `${id}: nothing issued`);
    // The token was not spent on the refused request: the device can still enroll with a sound key.
    const good = await enroll(id, tok, csrFor(id).der);
    assert.equal(good.status, 200, `${id} then enrolls with a sound key`);
  }

  test("RSA with e = 1: the forged signature (s = EM) verifies, and the CSR is refused", async () => {
    await refusedWeak("dev-w-e1", forgedRsaE1Csr("dev-w-e1"), /exponent 1 /);
  });

  test("RSA with e = 3 and with e = 65535 (real keys, real signatures) are refused too", async () => {
    for (const [id, e] of [["dev-w-e3", 3], ["dev-w-e65535", 65535]] as const) {
      const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: e });
      await refusedWeak(id, buildCsr({ cn: id, privateKey }), new RegExp(`exponent ${e} `));
    }
  });

  test("Ed25519 identity point, in its canonical and two non-canonical encodings, with R = identity and S = 0", async () => {
    for (const [id, a] of [["dev-w-ed1", ED25519_IDENTITY], ["dev-w-ed2", ED25519_IDENTITY_P_PLUS_1], ["dev-w-ed3", ED25519_IDENTITY_SIGNED]] as const) {
      await refusedWeak(id, forgedEd25519Csr(id, a), /small order/);
    }
  });

  test("the EC point at infinity is refused, on P-256 and on a curve we do not accept (which used to abort the process)", async () => {
    // Before: node's key-details query hit a native assertion on this key and the gateway process died (any
    // credential holder could do it through simplereenroll).
    await refusedWeak("dev-w-inf2", infinityCsr("dev-w-inf2", "secp256k1"), /infinity/);
    await refusedWeak("dev-w-inf1", infinityCsr("dev-w-inf1", "prime256v1"), /infinity/);
    // Still serving.
    assert.equal((await est.cacerts()).length, 2);
  });

  test("re-enrollment with a forged CSR under the device's own certificate is refused the same way", async () => {
    const k = csrFor("dev-w-re");
    const certPem = await est.simpleEnroll(k.der, { deviceId: "dev-w-re", token: await token(t, "dev-w-re") });
    const r = await rawEst(t, "POST", "simplereenroll", {
      headers: { "content-type": "application/pkcs10" }, body: forgedRsaE1Csr("dev-w-re").toString("base64"), certPem, keyPem: k.keyPem,
    });
    assert.equal(r.status, 400);
    assert.match(r.body, /exponent/);
    assert.equal(sq(t.gw.deps.store).sync.certificates.forDevice("dev-w-re").length, 1);
  });

  test("sound keys of every accepted type enroll: P-256, P-384, RSA 2048 (e = 65537), RSA 3072, Ed25519", async () => {
    const keys: [string, crypto.KeyObject][] = [
      ["dev-w-ok1", crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey],
      ["dev-w-ok2", crypto.generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey],
      ["dev-w-ok3", crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey],
      ["dev-w-ok4", crypto.generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey],
      ["dev-w-ok5", crypto.generateKeyPairSync("ed25519").privateKey],
    ];
    for (const [id, privateKey] of keys) {
      const r = await enroll(id, await token(t, id), buildCsr({ cn: id, privateKey }));
      assert.equal(r.status, 200, `${id}: ${r.body}`);
    }
  });
});
