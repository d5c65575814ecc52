import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { curl, ok, opensslCsr, pkcs7ToPem, token } from "../helpers/est-tools.js";
import { certFacts } from "../../pki/cert-facts.js";
import { fromPemAll } from "../../pki/der.js";
import { sq } from "../../testkit/registry.js";

/** RFC 7030 Appendix A, with real curl and openssl against a real gateway. */
describe("EST with curl and openssl (RFC 7030 Appendix A)", () => {
  let t: TestGateway;
  let dir: string;
  before(async () => {
    t = await startTestGateway();
    dir = tmpDir("fg-est-openssl-");
  });
  after(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("GET cacerts: certs-only PKCS#7 with the issuing CA and the root, printed by openssl", async () => {
    const r = await curl(t, "cacerts", [], dir);
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "application/pkcs7-mime");
    const printed = await pkcs7ToPem(dir, r.body);
    const subjects = [...printed.matchAll(/^subject=(.*)$/gm)].map((m) => m[1]!);
    assert.equal(subjects.length, 2);
    assert.ok(subjects.some((s) => /fleetgate Root CA/.test(s)), printed);
    assert.ok(subjects.some((s) => /fleetgate Issuing CA/.test(s)), printed);
    const ders = fromPemAll(printed).map((d) => d.toString("hex")).sort();
    const expected = [fromPemAll(fs.readFileSync(t.paths.rootCert, "utf8"))[0]!, fromPemAll(fs.readFileSync(t.paths.issuingCert, "utf8"))[0]!].map((d) => d.toString("hex")).sort();
    assert.deepEqual(ders, expected);
  });

  test("GET csrattrs: 204, no attributes required", async () => {
    const r = await curl(t, "csrattrs", [], dir);
    assert.equal(r.status, 204);
    assert.equal(r.body.length, 0);
  });

  test("openssl req -> curl simpleenroll -> openssl verify -> curl simplereenroll with the issued cert", async () => {
    const tok = await token(t, "dev-x");
    const csr = await opensslCsr(dir, "dev-x", "/CN=dev-x");
    const r = await curl(t, "simpleenroll", ["-u", `dev-x:${tok}`, "-H", "Content-Type: application/pkcs10", "--data-binary", `@${csr.b64File}`], dir);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers["content-type"], "application/pkcs7-mime; smime-type=certs-only");
    const certPem = await pkcs7ToPem(dir, r.body);
    const certFile = path.join(dir, "dev-x.cert.pem");
    fs.writeFileSync(certFile, certPem);
    const v = await ok("openssl", ["verify", "-CAfile", t.paths.rootCert, "-untrusted", t.paths.issuingCert, certFile]);
    assert.match(v, /: OK/);
    const facts = certFacts(fromPemAll(certPem)[0]!);
    assert.equal(facts.commonName, "dev-x");
    assert.equal(facts.role, "device");
    // Recorded before the answer was sent.
    const row = sq(t.gw.deps.store).sync.certificates.get(facts.serial);
    assert.equal(row?.deviceId, "dev-x");
    assert.equal(row?.status, "valid");

    // Re-enroll with the issued certificate and its key, a new key pair in the CSR.
    const csr2 = await opensslCsr(dir, "dev-x-2", "/CN=dev-x");
    const r2 = await curl(t, "simplereenroll", ["--cert", certFile, "--key", csr.keyFile, "-H", "Content-Type: application/pkcs10", "--data-binary", `@${csr2.b64File}`], dir);
    assert.equal(r2.status, 200, r2.body.toString());
    assert.equal(r2.headers["content-type"], "application/pkcs7-mime; smime-type=certs-only");
    const cert2Pem = await pkcs7ToPem(dir, r2.body);
    const cert2File = path.join(dir, "dev-x.cert2.pem");
    fs.writeFileSync(cert2File, cert2Pem);
    assert.match(await ok("openssl", ["verify", "-CAfile", t.paths.rootCert, "-untrusted", t.paths.issuingCert, cert2File]), /: OK/);
    // The new certificate carries the new key; the old one stays valid.
    const pub = (f: string) => ok("openssl", ["pkey", "-in", f, "-pubout"]);
    const certPub = (f: string) => ok("openssl", ["x509", "-in", f, "-noout", "-pubkey"]);
    assert.equal(await certPub(cert2File), await pub(csr2.keyFile));
    assert.notEqual(await certPub(cert2File), await certPub(certFile));
    const certs = sq(t.gw.deps.store).sync.certificates.forDevice("dev-x");
    assert.equal(certs.length, 2);
    assert.ok(certs.every((c) => c.status === "valid"));
  });

  test("a CSR asking for CA:TRUE and keyCertSign gets CA:FALSE and digitalSignature only", async () => {
    const tok = await token(t, "dev-ca");
    const csr = await opensslCsr(dir, "dev-ca", "/CN=dev-ca", ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    const asked = await ok("openssl", ["req", "-inform", "DER", "-in", path.join(dir, "dev-ca.csr.der"), "-noout", "-text"]);
    assert.match(asked, /CA:TRUE/); // the request really asks for it
    const r = await curl(t, "simpleenroll", ["-u", `dev-ca:${tok}`, "-H", "Content-Type: application/pkcs10", "--data-binary", `@${csr.b64File}`], dir);
    assert.equal(r.status, 200, r.body.toString());
    const certFile = path.join(dir, "dev-ca.cert.pem");
    fs.writeFileSync(certFile, await pkcs7ToPem(dir, r.body));
    const text = await ok("openssl", ["x509", "-in", certFile, "-noout", "-text"]);
    assert.match(text, /CA:FALSE/);
    assert.doesNotMatch(text, /CA:TRUE/);
    const ku = /X509v3 Key Usage: critical\s*\n\s*(.*)\n/.exec(text);
    assert.equal(ku?.[1]?.trim(), "Digital Signature");
    assert.match(text, /TLS Web Client Authentication/);
  });

  test("refusals seen by curl: 401 with WWW-Authenticate, 415, 413, 400, one-line reasons", async () => {
    const csr = await opensslCsr(dir, "dev-r", "/CN=dev-r");
    const none = await curl(t, "simpleenroll", ["-H", "Content-Type: application/pkcs10", "--data-binary", `@${csr.b64File}`], dir);
    assert.equal(none.status, 401);
    assert.equal(none.headers["www-authenticate"], 'Basic realm="est"');
    assert.match(none.body.toString(), /^[^\n]+\n$/);
    const tok = await token(t, "dev-r");
    const json = await curl(t, "simpleenroll", ["-u", `dev-r:${tok}`, "-H", "Content-Type: application/json", "--data-binary", '{"csr":"x"}'], dir);
    assert.equal(json.status, 415);
    const big = path.join(dir, "big.b64");
    fs.writeFileSync(big, "A".repeat(100 * 1024));
    const large = await curl(t, "simpleenroll", ["-u", `dev-r:${tok}`, "-H", "Content-Type: application/pkcs10", "--data-binary", `@${big}`], dir);
    assert.equal(large.status, 413);
    const garbage = await curl(t, "simpleenroll", ["-u", `dev-r:${tok}`, "-H", "Content-Type: application/pkcs10", "--data-binary", "!!not base64!!"], dir);
    assert.equal(garbage.status, 400);
    assert.match(garbage.body.toString(), /^[^\n]+\n$/);
    // None of these consumed the token.
    const good = await curl(t, "simpleenroll", ["-u", `dev-r:${tok}`, "-H", "Content-Type: application/pkcs10", "--data-binary", `@${csr.b64File}`], dir);
    assert.equal(good.status, 200, good.body.toString());
  });
});
