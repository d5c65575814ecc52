import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { basic, csrFor, rawEst, refusals, token } from "../helpers/est-tools.js";
import { EstClient, EstError } from "../../device-sim/est-client.js";
import crypto from "node:crypto";
import { breakCsrSignature, buildCsr } from "../helpers/hostile-csr.js";
import { certFacts } from "../../pki/cert-facts.js";
import { fromPemAll } from "../../pki/der.js";
import { hashToken, tokenUsable } from "../../enroll/tokens.js";
import { revokeDevice } from "../../enroll/fleet.js";
import { sq } from "../../testkit/registry.js";

/** Initial enrollment by bootstrap token, and every way to abuse it (issue 3). */
describe("EST simpleenroll with a bootstrap token", () => {
  let t: TestGateway;
  let est: EstClient;
  before(async () => {
    t = await startTestGateway();
    est = new EstClient({ baseUrl: t.estUrl, caPem: t.caPem });
  });
  after(() => t.close());

  const store = () => t.gw.deps.store;
  const usable = (id: string, tok: string) => tokenUsable(store(), id, tok, Date.now());
  async function refused(p: Promise<unknown>, status: number): Promise<EstError> {
    const e = await p.then(() => assert.fail(`expected ${status}, got 200`), (x: unknown) => x);
    assert.ok(e instanceof EstError, String(e));
    assert.equal(e.status, status, e.body);
    assert.match(e.body, /^[^\n]+\n$/, "one-line reason");
    return e;
  }
  const serverAnswers = async () => assert.equal((await est.cacerts()).length, 2);

  test("EstClient: enroll, then re-enroll with a new key; events, audit and metrics record both", async () => {
    const seen: string[] = [];
    t.gw.deps.events.on("enrolled", (e) => seen.push(`${e.op}:${e.deviceId}:${e.serial}`));
    const tok = await token(t, "dev-c1");
    const k1 = csrFor("dev-c1");
    const pem1 = await est.simpleEnroll(k1.der, { deviceId: "dev-c1", token: tok });
    const f1 = certFacts(fromPemAll(pem1)[0]!);
    assert.equal(f1.commonName, "dev-c1");
    assert.equal(f1.isCA, false);
    const k2 = csrFor("dev-c1");
    const pem2 = await est.simpleReenroll(k2.der, { certPem: pem1, keyPem: k1.keyPem });
    const f2 = certFacts(fromPemAll(pem2)[0]!);
    assert.equal(f2.commonName, "dev-c1");
    assert.notEqual(f2.serial, f1.serial);
    assert.deepEqual(seen, [`simpleenroll:dev-c1:${f1.serial}`, `simplereenroll:dev-c1:${f2.serial}`]);
    assert.equal(sq(store()).sync.devices.get("dev-c1")?.status, "active");
    assert.deepEqual(sq(store()).sync.certificates.forDevice("dev-c1").map((c) => c.status), ["valid", "valid"]);
    const audit = sq(store()).sync.audit.forDevice("dev-c1", 10).map((a) => a.type);
    assert.deepEqual(audit.slice(0, 2), ["enroll.simplereenroll", "enroll.simpleenroll"]);
    const m = await fetchMetrics(t);
    assert.match(m, /gateway_enrollments_total\{operation="simpleenroll",result="ok"\} [1-9]/);
    assert.match(m, /gateway_enrollments_total\{operation="simplereenroll",result="ok"\} [1-9]/);
    assert.match(m, /gateway_enrollment_duration_seconds_count\{operation="simpleenroll"\} [1-9]/);
  });

  test("token replay is refused 401", async () => {
    const tok = await token(t, "dev-replay");
    await est.simpleEnroll(csrFor("dev-replay").der, { deviceId: "dev-replay", token: tok });
    const e = await refused(est.simpleEnroll(csrFor("dev-replay").der, { deviceId: "dev-replay", token: tok }), 401);
    assert.equal(e.body, "bootstrap token is invalid, expired or already used\n");
    assert.equal(sq(store()).sync.certificates.forDevice("dev-replay").length, 1);
  });

  test("eight concurrent enrollments with one token: exactly one 200, seven 401, one certificate row", async () => {
    const tok = await token(t, "dev-race");
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => est.simpleEnroll(csrFor("dev-race").der, { deviceId: "dev-race", token: tok })));
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(won.length, 1);
    assert.equal(lost.length, 7);
    for (const r of lost) assert.equal((r.reason as EstError).status, 401, String(r.reason));
    assert.equal(sq(store()).sync.certificates.forDevice("dev-race").length, 1);
    assert.equal(sq(store()).sync.tokens.get(hashToken(tok))?.usedAt !== null, true);
  });

  test("every refused request leaves the token usable, and the server answering", async () => {
    const id = "dev-h";
    const tok = await token(t, id);
    const good = csrFor(id);
    const b64 = good.der.toString("base64");
    const pkcs10 = { "content-type": "application/pkcs10" };
    const cases: Array<[string, () => Promise<unknown>, number]> = [
      ["wrong token", () => est.simpleEnroll(good.der, { deviceId: id, token: `${tok.slice(0, -2)}xx` }), 401],
      ["token of another device", () => est.simpleEnroll(good.der, { deviceId: "dev-other", token: tok }), 401],
      ["CSR CN differs from the token's device", () => est.simpleEnroll(csrFor("dev-evil").der, { deviceId: id, token: tok }), 403],
      ["broken CSR signature", () => est.simpleEnroll(breakCsrSignature(good.der), { deviceId: id, token: tok }), 400],
      ["CSR with an extra subject attribute", () => est.simpleEnroll(csrFor(id, { extraSubject: [["2.5.4.10", "Evil Corp"]] }).der, { deviceId: id, token: tok }), 400],
      ["DER that is no CSR", () => est.simpleEnroll(Buffer.from("3003020101", "hex"), { deviceId: id, token: tok }), 400],
    ];
    for (const [name, go, status] of cases) {
      await refused(go(), status).catch((e: unknown) => assert.fail(`${name}: ${String(e)}`));
      assert.ok((await usable(id, tok)), `${name} consumed the token`);
    }
    const raw: Array<[string, Parameters<typeof rawEst>[3], number]> = [
      ["no credentials", { headers: pkcs10, body: b64 }, 401],
      ["malformed Basic", { headers: { ...pkcs10, authorization: "Basic %%%" }, body: b64 }, 401],
      ["garbage base64", { headers: { ...pkcs10, authorization: basic(id, tok) }, body: "this is *not* base64 at all" }, 400],
      ["base64 of garbage", { headers: { ...pkcs10, authorization: basic(id, tok) }, body: Buffer.from("garbage").toString("base64") }, 400],
      ["PEM armour", { headers: { ...pkcs10, authorization: basic(id, tok) }, body: `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n` }, 400],
      ["empty body", { headers: { ...pkcs10, authorization: basic(id, tok) }, body: "" }, 400],
      ["application/json", { headers: { "content-type": "application/json", authorization: basic(id, tok) }, body: JSON.stringify({ csr: b64 }) }, 415],
      ["text/plain", { headers: { "content-type": "text/plain", authorization: basic(id, tok) }, body: b64 }, 415],
      ["no content type", { headers: { authorization: basic(id, tok) }, body: b64 }, 415],
      ["no content type, no body", { headers: { authorization: basic(id, tok) } }, 415],
      ["100 KB body", { headers: { ...pkcs10, authorization: basic(id, tok) }, body: "QUFB".repeat(25_600) }, 413],
    ];
    for (const [name, o, status] of raw) {
      const r = await rawEst(t, "POST", "simpleenroll", o);
      assert.equal(r.status, status, `${name}: ${r.body}`);
      assert.match(r.body, /^[^\n]+\n$/, `${name}: one-line reason`);
      if (status === 401) assert.equal(r.headers["www-authenticate"], 'Basic realm="est"', name);
      assert.ok((await usable(id, tok)), `${name} consumed the token`);
      await serverAnswers();
    }
    // Every refusal was logged with its code.
    for (const code of ["FG_TOKEN_INVALID", "FG_CSR_SUBJECT_MISMATCH", "FG_CSR_SIGNATURE_INVALID", "FG_CSR_MALFORMED", "FG_BODY_MALFORMED", "FG_CONTENT_TYPE", "FG_BODY_TOO_LARGE", "FG_AUTH_REQUIRED"]) {
      assert.ok(refusals(t, code).length > 0, `no log line with code ${code}`);
    }
    // Base64 with CRLF line breaks, a parameter on the media type and a Content-Transfer-Encoding header (RFC 8951: ignored) all work.
    const wrapped = b64.replace(/(.{64})/g, "$1\r\n");
    const r = await rawEst(t, "POST", "simpleenroll", {
      headers: { "content-type": "application/pkcs10; charset=us-ascii", "content-transfer-encoding": "base64", authorization: basic(id, tok) }, body: wrapped,
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers["content-type"], "application/pkcs7-mime; smime-type=certs-only");
    assert.equal((await usable(id, tok)), false);
    // No token in any log line or audit row.
    assert.ok(!t.logs.text().includes(tok), "token logged");
    assert.ok(!JSON.stringify(sq(store()).sync.audit.newest(10_000)).includes(tok), "token audited");
    const refusedRows = sq(store()).sync.audit.forDevice(id, 100).filter((a) => a.type === "enroll.refused");
    assert.ok(refusedRows.some((a) => a.code === "FG_CSR_SUBJECT_MISMATCH"));
    assert.ok(refusedRows.some((a) => a.code === "FG_TOKEN_INVALID"));
  });

  test("mangled CSRs (bit flips, truncations, weak keys) are all 400, the token survives, the server answers", async () => {
    const id = "dev-fuzz";
    const tok = await token(t, id);
    const good = csrFor(id).der;
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const inputs: Buffer[] = [];
    while (inputs.length < 60) {
      const m = Buffer.from(good);
      m[rnd(m.length)]! ^= 1 << rnd(8);
      inputs.push(m);
    }
    for (let i = 0; i < 10; i++) inputs.push(good.subarray(0, rnd(good.length)));
    inputs.push(Buffer.concat([good, Buffer.from("trailing")]));
    inputs.push(buildCsr({ cn: id, privateKey: crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey }));
    inputs.push(buildCsr({ cn: id, privateKey: crypto.generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey }));
    for (const der of inputs) {
      const r = await rawEst(t, "POST", "simpleenroll", { headers: { "content-type": "application/pkcs10", authorization: basic(id, tok) }, body: der.toString("base64") });
      assert.equal(r.status, 400, `${der.toString("hex")}: ${r.body}`);
    }
    assert.ok((await usable(id, tok)));
    assert.equal((await est.simpleEnroll(good, { deviceId: id, token: tok })).startsWith("-----BEGIN CERTIFICATE-----"), true);
  });

  test("an expired token is refused 401", async () => {
    const tok = "expired-token-value-expired-token-value-xx";
    const now = Date.now();
    sq(store()).sync.tokens.insert(hashToken(tok), "dev-exp", now - 7200_000, now - 1000);
    await refused(est.simpleEnroll(csrFor("dev-exp").der, { deviceId: "dev-exp", token: tok }), 401);
    assert.equal(sq(store()).sync.devices.get("dev-exp"), undefined);
  });

  test("a revoked device is refused 403 even with a fresh token, which stays unused", async () => {
    const early = await token(t, "dev-rv");
    await est.simpleEnroll(csrFor("dev-rv").der, { deviceId: "dev-rv", token: await token(t, "dev-rv") });
    await revokeDevice(t.gw.deps, "dev-rv", "keyCompromise", "test");
    assert.ok(!(await usable("dev-rv", early)), "revoking the device cancelled its outstanding token");
    // A token the registry holds anyway (written by an older gateway, which did not cancel them).
    const fresh = crypto.randomBytes(32).toString("base64url");
    sq(store()).sync.tokens.insert(hashToken(fresh), "dev-rv", Date.now(), Date.now() + 3600_000, true);
    const e = await refused(est.simpleEnroll(csrFor("dev-rv").der, { deviceId: "dev-rv", token: fresh }), 403);
    assert.equal(e.body, "device is revoked\n");
    assert.ok((await usable("dev-rv", fresh)));
    assert.equal(sq(store()).sync.certificates.forDevice("dev-rv").length, 1);
    assert.ok(sq(store()).sync.audit.forDevice("dev-rv", 5).some((a) => a.type === "enroll.refused" && a.code === "FG_DEVICE_REVOKED"));
  });

  test("token failures are counted in the metrics", async () => {
    assert.match(await fetchMetrics(t), /gateway_token_failures_total [1-9]/);
    assert.match(await fetchMetrics(t), /gateway_enrollments_total\{operation="simpleenroll",result="FG_TOKEN_INVALID"\} [1-9]/);
    assert.match(await fetchMetrics(t), /gateway_enrollments_total\{operation="simpleenroll",result="FG_BODY_TOO_LARGE"\} [1-9]/);
  });
});

async function fetchMetrics(t: TestGateway): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${t.gw.metricsPort}/metrics`);
  return r.text();
}
