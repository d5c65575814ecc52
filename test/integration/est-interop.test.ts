import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { foreignCa, issueDirect } from "../../testkit/certs.js";
import { basic, csrFor, run, token } from "../helpers/est-tools.js";
import { headerNames, rawHttps, type RawHttpReply } from "../helpers/raw-https.js";
import { EstClient, EstError } from "../../device-sim/est-client.js";
import { certFacts } from "../../pki/cert-facts.js";
import { fromPemAll } from "../../pki/der.js";
import { hashToken } from "../../enroll/tokens.js";
import { revokeDevice } from "../../enroll/fleet.js";
import { buildCsr } from "../helpers/hostile-csr.js";
import path from "node:path";
import { openStore } from "../../db/open.js";
import { checkCredentialOrReplay, enrollOrReplay, type Authorization, type EnrollDeps } from "../../enroll/enrollment.js";

/** The EST operation's path (enroll/est/operation.ts) without HTTP: check the credential (or find a retry), then enroll or redeliver. */
const enroll = async (d: EnrollDeps, auth: Authorization, csrDer: Uint8Array) => enrollOrReplay(d, auth, await checkCredentialOrReplay(d.store, auth, d.clock()), csrDer);
import { sq } from "../../testkit/registry.js";

/**
 * Issue 11 points 9 and 10a: what a strict third-party EST client (Cisco libest
 * compares header names byte for byte) reads on the wire, the retry of an
 * enrollment whose answer was lost, and 405 with Allow for a wrong method.
 */

const EST = "/.well-known/est";
/** Canonical case: each dash-separated word capitalized (RFC 9110 spelling), or a known acronym. */
const CANONICAL_NAME = /^(WWW-Authenticate|[A-Z][a-z0-9]*(-[A-Z][a-z0-9]*)*)$/;

function assertCanonical(r: RawHttpReply, what: string, required: string[]) {
  const names = headerNames(r);
  for (const n of names) assert.match(n, CANONICAL_NAME, `${what}: header name ${JSON.stringify(n)} is not in canonical case`);
  for (const want of required) assert.ok(names.includes(want), `${what}: ${want} missing (byte for byte) from ${JSON.stringify(names)}`);
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof EstError) return e.status;
    throw e;
  }
}

const serialOf = (pem: string) => certFacts(fromPemAll(pem)[0]!).serial;

describe("EST header names on the wire (raw bytes)", () => {
  let t: TestGateway;
  let est: EstClient;
  const raw = (line: string, o: Parameters<typeof rawHttps>[3] = {}) => rawHttps(t.gw.httpsPort, t.caPem, line, o);
  before(async () => {
    t = await startTestGateway({ "auth-failure-limit": "3" });
    est = new EstClient({ baseUrl: t.estUrl, caPem: t.caPem });
  });
  after(() => t.close());

  test("cacerts, csrattrs, simpleenroll (200, 401), simplereenroll, 405 and 429 send canonical header names", async () => {
    const cacerts = await raw(`GET ${EST}/cacerts HTTP/1.1`);
    assert.equal(cacerts.status, 200);
    assertCanonical(cacerts, "cacerts", ["Content-Type", "Content-Length", "Content-Transfer-Encoding"]);
    assert.equal(cacerts.header("content-transfer-encoding"), "base64");

    const csrattrs = await raw(`GET ${EST}/csrattrs HTTP/1.1`);
    assert.equal(csrattrs.status, 204);
    assertCanonical(csrattrs, "csrattrs", []);

    const tok = await token(t, "dev-wire");
    const body = csrFor("dev-wire").der.toString("base64");
    const noAuth = await raw(`POST ${EST}/simpleenroll HTTP/1.1`, { headers: ["Content-Type: application/pkcs10"], body });
    assert.equal(noAuth.status, 401);
    assertCanonical(noAuth, "simpleenroll 401", ["WWW-Authenticate", "Content-Type"]);
    assert.equal(noAuth.header("www-authenticate"), 'Basic realm="est"');

    const ok = await raw(`POST ${EST}/simpleenroll HTTP/1.1`, { headers: ["Content-Type: application/pkcs10", `Authorization: ${basic("dev-wire", tok)}`], body });
    assert.equal(ok.status, 200, ok.body);
    assertCanonical(ok, "simpleenroll 200", ["Content-Type", "Content-Transfer-Encoding", "Content-Length"]);
    assert.equal(ok.header("content-type"), "application/pkcs7-mime; smime-type=certs-only");

    const k1 = csrFor("dev-wire2");
    const certPem = await est.simpleEnroll(k1.der, { deviceId: "dev-wire2", token: await token(t, "dev-wire2") });
    const re = await raw(`POST ${EST}/simplereenroll HTTP/1.1`, { headers: ["Content-Type: application/pkcs10"], body: csrFor("dev-wire2").der.toString("base64"), cert: certPem, key: k1.keyPem });
    assert.equal(re.status, 200, re.body);
    assertCanonical(re, "simplereenroll 200", ["Content-Type", "Content-Transfer-Encoding", "Content-Length"]);
    const reNone = await raw(`POST ${EST}/simplereenroll HTTP/1.1`, { headers: ["Content-Type: application/pkcs10"], body });
    assert.equal(reNone.status, 401);
    assertCanonical(reNone, "simplereenroll 401", ["WWW-Authenticate"]);

    const wrong = await raw(`GET ${EST}/simpleenroll HTTP/1.1`);
    assert.equal(wrong.status, 405);
    assertCanonical(wrong, "405", ["Allow", "Content-Type"]);

    for (let i = 0; i < 3; i++) await raw(`POST ${EST}/simpleenroll HTTP/1.1`, { headers: ["Content-Type: application/pkcs10", `Authorization: ${basic("dev-wire3", `guess-${i}`)}`], body });
    const limited = await raw(`POST ${EST}/simpleenroll HTTP/1.1`, { headers: ["Content-Type: application/pkcs10", `Authorization: ${basic("dev-wire3", "guess")}`], body });
    assert.equal(limited.status, 429);
    assertCanonical(limited, "429", ["Retry-After", "Content-Type"]);
  });
});

describe("a retried enrollment gets the certificate already issued", () => {
  let t: TestGateway;
  let est: EstClient;
  before(async () => {
    t = await startTestGateway();
    est = new EstClient({ baseUrl: t.estUrl, caPem: t.caPem });
  });
  after(() => t.close());
  const store = () => t.gw.deps.store;

  test("token: same token and same key answer 200 with the same certificate, again and again", async () => {
    const tok = await token(t, "dev-retry1");
    const k = csrFor("dev-retry1");
    const first = await est.simpleEnroll(k.der, { deviceId: "dev-retry1", token: tok });
    // The client lost that answer; it retries with the same CSR, then with a new CSR over the same key.
    const again = await est.simpleEnroll(k.der, { deviceId: "dev-retry1", token: tok });
    assert.equal(serialOf(again), serialOf(first));
    assert.equal(again.trim(), first.trim());
    const newCsr = buildCsr({ cn: "dev-retry1", privateKey: k.privateKey });
    assert.ok(!newCsr.equals(k.der), "ECDSA: a new signature");
    const sameKeyNewCsr = await est.simpleEnroll(newCsr, { deviceId: "dev-retry1", token: tok });
    assert.equal(serialOf(sameKeyNewCsr), serialOf(first));
    assert.equal(sq(store()).sync.certificates.forDevice("dev-retry1").length, 1, "no second certificate");
    const audit = sq(store()).sync.audit.forDevice("dev-retry1", 10).map((a) => a.type).slice(0, 3);
    assert.deepEqual(audit, ["enroll.simpleenroll.redelivered", "enroll.simpleenroll.redelivered", "enroll.simpleenroll"]);
    assert.equal(sq(store()).sync.tokens.get(hashToken(tok))?.issuedSerial, serialOf(first));
  });

  test("token: concurrent duplicates of one request all get the one certificate", async () => {
    const tok = await token(t, "dev-retry6");
    const k = csrFor("dev-retry6");
    const all = await Promise.all(Array.from({ length: 6 }, () => est.simpleEnroll(k.der, { deviceId: "dev-retry6", token: tok })));
    assert.equal(new Set(all.map(serialOf)).size, 1);
    assert.equal(sq(store()).sync.certificates.forDevice("dev-retry6").length, 1);
  });

  test("token: the same request committed by another process between this one's check and commit gets that certificate", async () => {
    const tok = await token(t, "dev-retry7");
    const k = csrFor("dev-retry7");
    const auth: Authorization = { kind: "token", deviceId: "dev-retry7", token: tok };
    const other = openStore(path.join(t.dataDir, "gateway.db"));
    try {
      const d = t.gw.deps;
      // This process checks (the token is usable), then the other process enrolls the same CSR, then this one signs and commits.
      const check = await checkCredentialOrReplay(d.store, auth, Date.now());
      assert.equal(check.replay, undefined);
      const theirs = (await enroll({ ...d, store: other }, auth, k.der)).certificate.serial;
      const mine = await enrollOrReplay(d, auth, check, k.der);
      assert.equal(mine.certificate.serial, theirs);
      assert.equal(mine.redelivered, true);
      assert.equal(sq(store()).sync.certificates.forDevice("dev-retry7").length, 1);
    } finally {
      await other.close();
    }
  });

  test("token: a different key, a wrong CN, another device's id or a revoked device are still refused", async () => {
    const tok = await token(t, "dev-retry2");
    const k = csrFor("dev-retry2");
    await est.simpleEnroll(k.der, { deviceId: "dev-retry2", token: tok });
    assert.equal(await status(est.simpleEnroll(csrFor("dev-retry2").der, { deviceId: "dev-retry2", token: tok })), 401, "another key");
    assert.equal(await status(est.simpleEnroll(k.der, { deviceId: "dev-other", token: tok })), 401, "another device id");
    assert.equal(await status(est.simpleEnroll(csrFor("dev-retry2x").der, { deviceId: "dev-retry2", token: tok })), 401, "another CN and key");
    assert.equal(sq(store()).sync.certificates.forDevice("dev-retry2").length, 1);
    await revokeDevice(t.gw.deps, "dev-retry2", "keyCompromise", "test");
    assert.equal(await status(est.simpleEnroll(k.der, { deviceId: "dev-retry2", token: tok })), 401, "revoked device: no redelivery");
  });

  test("token: no redelivery once the token's lifetime is over, nor a day after it was spent", async () => {
    const tok = await token(t, "dev-retry3", 3600);
    const k = csrFor("dev-retry3");
    await est.simpleEnroll(k.der, { deviceId: "dev-retry3", token: tok });
    const h = hashToken(tok);
    sq(store()).db.prepare("UPDATE tokens SET used_at = ? WHERE hash = ?").run(Date.now() - 25 * 3600_000, h);
    assert.equal(await status(est.simpleEnroll(k.der, { deviceId: "dev-retry3", token: tok })), 401, "spent more than 24 h ago");
    sq(store()).db.prepare("UPDATE tokens SET used_at = ?, expires_at = ? WHERE hash = ?").run(Date.now() - 60_000, Date.now() - 1000, h);
    assert.equal(await status(est.simpleEnroll(k.der, { deviceId: "dev-retry3", token: tok })), 401, "token expired");
    sq(store()).db.prepare("UPDATE tokens SET expires_at = ? WHERE hash = ?").run(Date.now() + 3600_000, h);
    assert.equal(await status(est.simpleEnroll(k.der, { deviceId: "dev-retry3", token: tok })), 200, "within bounds again");
  });

  test("token: no redelivery of a revoked or superseded certificate even for an active device", async () => {
    const tok = await token(t, "dev-retry4");
    const k = csrFor("dev-retry4");
    const pem = await est.simpleEnroll(k.der, { deviceId: "dev-retry4", token: tok });
    sq(store()).db.prepare("UPDATE certificates SET status = 'revoked', revoked_at = ? WHERE serial = ?").run(Date.now(), serialOf(pem));
    assert.equal(await status(est.simpleEnroll(k.der, { deviceId: "dev-retry4", token: tok })), 401);
  });

  test("simplereenroll: the same current certificate and the same new key get the same renewal", async () => {
    const k1 = csrFor("dev-retry5");
    const cur = await est.simpleEnroll(k1.der, { deviceId: "dev-retry5", token: await token(t, "dev-retry5") });
    const k2 = csrFor("dev-retry5");
    const renewed = await est.simpleReenroll(k2.der, { certPem: cur, keyPem: k1.keyPem });
    const retried = await est.simpleReenroll(k2.der, { certPem: cur, keyPem: k1.keyPem });
    assert.equal(serialOf(retried), serialOf(renewed));
    // Renewing with the current key is a new certificate, not the current one handed back.
    const sameKey = await est.simpleReenroll(k1.der, { certPem: cur, keyPem: k1.keyPem });
    assert.notEqual(serialOf(sameKey), serialOf(cur));
    // A renewal presented by the renewed certificate is a new one too.
    const next = await est.simpleReenroll(k2.der, { certPem: renewed, keyPem: k2.keyPem });
    assert.notEqual(serialOf(next), serialOf(renewed));
    assert.equal(sq(store()).sync.certificates.forDevice("dev-retry5").length, 4);
  });
});

describe("a retried manufacturer-certificate enrollment", () => {
  const maker = foreignCa("Maker Root R");
  let t: TestGateway;
  let est: EstClient;
  before(async () => {
    const dir = tmpDir("fg-bootstrap-");
    fs.writeFileSync(`${dir}/maker.pem`, maker.certPem);
    t = await startTestGateway({ "bootstrap-ca": `${dir}/maker.pem` });
    est = new EstClient({ baseUrl: t.estUrl, caPem: t.caPem });
  });
  after(() => t.close());

  test("the same manufacturer certificate and key get the same certificate; another key a new one", async () => {
    const idev = maker.issue("dev-mr1");
    const k = csrFor("dev-mr1");
    const first = await est.simpleEnroll(k.der, idev);
    const again = await est.simpleEnroll(k.der, idev);
    assert.equal(serialOf(again), serialOf(first));
    const other = await est.simpleEnroll(csrFor("dev-mr1").der, idev);
    assert.notEqual(serialOf(other), serialOf(first));
  });
});

describe("405 with Allow for a wrong method", () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway();
  });
  after(() => t.close());

  const curlX = async (method: string, p: string, extra: string[] = []) => {
    const dir = tmpDir();
    const r = await run("curl", ["-sS", "-X", method, "-D", `${dir}/h`, "-o", `${dir}/b`, "-w", "%{http_code}", "--cacert", t.paths.rootCert, ...extra, `${t.estUrl}${p}`]);
    assert.equal(r.code, 0, r.stderr);
    return { status: Number(r.stdout.trim()), head: fs.readFileSync(`${dir}/h`, "latin1"), body: fs.readFileSync(`${dir}/b`, "utf8") };
  };

  test("every EST path answers a wrong method with 405, Allow (canonical case) and a one-line reason", async () => {
    const cases: Array<[string, string, string]> = [];
    for (const m of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"]) {
      cases.push([m, "cacerts", "GET"], [m, "csrattrs", "GET"]);
    }
    for (const m of ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"]) {
      cases.push([m, "simpleenroll", "POST"], [m, "simplereenroll", "POST"]);
    }
    for (const [m, op, allow] of cases) {
      const r = await curlX(m, `${EST}/${op}`, m === "HEAD" ? ["--head"] : ["-H", "Content-Type: application/pkcs10", "--data-binary", "MIIB"]);
      assert.equal(r.status, 405, `${m} ${op}: ${r.body}`);
      assert.match(r.head, new RegExp(`\\r\\nAllow: ${allow}\\r\\n`), `${m} ${op}: ${r.head}`);
      if (m !== "HEAD") assert.match(r.body, /^method [A-Z]+ is not allowed here; use (GET|POST)\n$/);
    }
    assert.ok(t.logs.lines().some((l) => l.code === "FG_METHOD_NOT_ALLOWED"));
  });

  test("admin routes: without a certificate 401 first; with the admin certificate 405 with Allow, as JSON", async () => {
    const none = await curlX("PUT", "/api/v1/devices");
    assert.equal(none.status, 401);
    const asAdmin = await curlX("PUT", "/api/v1/devices", ["--cert", t.paths.adminCert, "--key", t.paths.adminKey]);
    assert.equal(asAdmin.status, 405);
    assert.match(asAdmin.head, /\r\nAllow: GET\r\n/);
    assert.equal(JSON.parse(asAdmin.body).code, "FG_METHOD_NOT_ALLOWED");
    const revoke = await curlX("GET", "/api/v1/devices/x/revoke", ["--cert", t.paths.adminCert, "--key", t.paths.adminKey]);
    assert.equal(revoke.status, 405);
    assert.match(revoke.head, /\r\nAllow: POST\r\n/);
  });

  test("a device certificate on an admin route with a wrong method is 403, not 405", async () => {
    const d = issueDirect(t.gw.deps, "dev-405");
    const r = await rawHttps(t.gw.httpsPort, t.caPem, "DELETE /api/v1/audit HTTP/1.1", { cert: d.certPem, key: d.keyPem });
    assert.equal(r.status, 403);
  });
});
