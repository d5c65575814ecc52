/**
 * Issue 11 point 2: a TLS connection's identity is the certificate its handshake
 * verified. Attacks: renegotiating to another certificate (RFC 5746 secure
 * renegotiation is still a new certificate), self-made certificates that copy the
 * issuing CA's name and key identifier plus an admin's or a victim's serial and
 * policy, and certificates whose serial is registered to another certificate.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, issuingIssuer, newEcKey, type Credential } from "../../testkit/certs.js";
import { httpsRequest } from "../helpers/https.js";
import { attempt, logged, pemFiles, run } from "./broker-helpers.js";
import { CertSigner } from "../../pki/signer.js";
import { clientProfile } from "../../enroll/profile.js";
import { revokeDevice } from "../../enroll/fleet.js";
import type { Role } from "../../db/types.js";
import { sq } from "../../testkit/registry.js";

const RENEG_CLIENT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../../test/helpers/reneg-client.py");

let g: TestGateway;
let dir: string;
let admin: Credential;
let device: Credential;
let revoked: Credential;
let victim: Credential;

before(async () => {
  g = await startTestGateway();
  dir = tmpDir("fg-tls-id-");
  const certPem = fs.readFileSync(g.paths.adminCert, "utf8");
  admin = { certPem, keyPem: fs.readFileSync(g.paths.adminKey, "utf8"), serial: new crypto.X509Certificate(certPem).serialNumber.toLowerCase(), privateKey: crypto.createPrivateKey(fs.readFileSync(g.paths.adminKey)) };
  device = issueDirect(g.gw.deps, "tls-dev");
  revoked = issueDirect(g.gw.deps, "tls-revoked");
  await revokeDevice({ store: g.gw.deps.store, clock: Date.now, events: g.gw.deps.events }, "tls-revoked", "keyCompromise", "test");
  victim = issueDirect(g.gw.deps, "tls-victim");
});
after(async () => g.close());

const serialBytes = (hex: string) => {
  const b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
};

/**
 * A certificate with `serial`, CN `name` and `role`'s policy under the issuing
 * CA's name and key identifier. `genuine` signs it with the real issuing CA key
 * (a certificate the registry never recorded under that serial); otherwise with
 * a self-made key (a forgery).
 */
function mint(role: Role, name: string, serial: string, genuine = false): Credential {
  const issuer = issuingIssuer(g.dataDir);
  const signer = new CertSigner(genuine ? issuer : { ...issuer, key: newEcKey().privateKey });
  const k = newEcKey();
  const c = signer.sign(clientProfile({ role, name, now: Date.now(), days: 30, crlUrl: g.gw.deps.ca.crlUrl() }), k.spkiDer, { serial: serialBytes(serial) });
  assert.equal(c.serial, serial, "the copy carries the target's serial");
  return { certPem: c.pem, keyPem: k.keyPem, serial: c.serial, privateKey: k.privateKey };
}

const as = (c: Credential) => ({ cert: c.certPem, key: c.keyPem });
const api = (p: string, c: Credential | null, o: { method?: string; json?: unknown } = {}) =>
  httpsRequest(`${g.estUrl}${p}`, { ca: g.caPem, method: o.method, json: o.json, ...(c ? as(c) : {}) });

/** Runs the renegotiating client: handshake as `first`, renegotiate as `second`, send `payload`. */
async function renegotiate(port: number, first: Credential, second: Credential, payload: Buffer, once = false) {
  const tag = crypto.randomBytes(4).toString("hex");
  const a = pemFiles(dir, `a-${tag}`, first);
  const b = pemFiles(dir, `b-${tag}`, second);
  const r = await run("python3", [RENEG_CLIENT, String(port), a.cert, a.key, b.cert, b.key, payload.toString("hex"), ...(once ? ["once"] : [])], 60_000);
  assert.equal(r.code, 0, `renegotiating client failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { handshake: boolean; renegotiated?: boolean; response?: string };
  return { ...out, text: Buffer.from(out.response ?? "", "hex").toString("latin1") };
}

const httpGet = (p: string) => Buffer.from(`GET ${p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
const httpPostJson = (p: string, body: unknown) => {
  const b = JSON.stringify(body);
  return Buffer.from(`POST ${p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
};

/** MQTT 3.1.1 CONNECT (clean session, keepalive 60) for `clientId` ([MQTT-3.1]). */
function mqttConnect(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from("MQTT"), Buffer.from([4, 0x02, 0, 60]), Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

test("HTTPS: device handshake, then renegotiation with a forged admin certificate: refused, and nothing is served as admin", async () => {
  const forgedAdmin = mint("admin", "admin", admin.serial);
  for (const first of [device, revoked]) {
    const r = await renegotiate(g.gw.httpsPort, first, forgedAdmin, httpGet("/api/v1/devices"));
    assert.equal(r.handshake, true);
    assert.equal(r.renegotiated, false, "the server must refuse renegotiation");
    assert.doesNotMatch(r.text, /^HTTP\/1\.1 200/, "no device list after a renegotiation attempt");
    const t = await renegotiate(g.gw.httpsPort, first, forgedAdmin, httpPostJson("/api/v1/tokens", { deviceId: "tls-stolen" }));
    assert.doesNotMatch(t.text, /^HTTP\/1\.1 201/);
  }
  assert.equal(sq(g.gw.deps.store).sync.audit.newest(1000).some((e) => e.type === "token.created" && e.deviceId === "tls-stolen"), false, "no token minted");
});

test("HTTPS: renegotiation with the victim device's forged certificate cannot re-enroll as the victim", async () => {
  const forgedVictim = mint("device", "tls-victim", victim.serial);
  const before = sq(g.gw.deps.store).sync.certificates.forDevice("tls-victim").length;
  const r = await renegotiate(g.gw.httpsPort, device, forgedVictim, Buffer.from("POST /.well-known/est/simplereenroll HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/pkcs10\r\nContent-Length: 4\r\n\r\nAAAA"));
  assert.equal(r.renegotiated, false);
  assert.doesNotMatch(r.text, /^HTTP\/1\.1 200/);
  assert.equal(sq(g.gw.deps.store).sync.certificates.forDevice("tls-victim").length, before, "no certificate issued for the victim");
});

test("MQTT: device handshake, then renegotiation with the victim's forged certificate or another genuine one: refused, never CONNACK 0 as that one", async () => {
  const other = issueDirect(g.gw.deps, "tls-dev2");
  for (const [second, id] of [[mint("device", "tls-victim", victim.serial), "tls-victim"], [other, "tls-dev2"]] as const) {
    const r = await renegotiate(g.gw.mqttsPort, device, second, mqttConnect(id), true);
    assert.equal(r.handshake, true);
    assert.equal(r.renegotiated, false, `the server must refuse renegotiation (to ${id})`);
    const connack = Buffer.from(r.response ?? "", "hex");
    assert.ok(connack.length < 4 || connack[3] !== 0, `no CONNACK 0, got ${connack.toString("hex")}`);
  }
});

test("a forged admin certificate (issuing CA's name and key id, admin serial and policy) as the first handshake's certificate: 401", async () => {
  const forged = mint("admin", "admin", admin.serial);
  const r = await api("/api/v1/devices", forged);
  assert.equal(r.status, 401);
  assert.equal((await api("/api/v1/tokens", forged, { method: "POST", json: { deviceId: "tls-forged" } })).status, 401);
});

test("a forged victim certificate on MQTT: the TLS handshake fails, never CONNACK 0", async () => {
  const a = await attempt(g, mint("device", "tls-victim", victim.serial), "tls-victim");
  assert.notEqual(a.kind === "connack" && a.code === 0, true, JSON.stringify(a.kind === "connack" ? a.code : a));
});

test("a genuinely signed certificate whose serial is registered to ANOTHER certificate is not that registered identity", async () => {
  // The registry is keyed by serial; the presented certificate must be the registered one.
  const twinAdmin = mint("admin", "admin", admin.serial, true);
  const r = await api("/api/v1/devices", twinAdmin);
  assert.ok(r.status === 401 || r.status === 403, `status ${r.status}`);
  assert.equal(r.json<{ code: string }>().code, "FG_CERT_UNKNOWN");
  const twinVictim = mint("device", "tls-victim", victim.serial, true);
  const m = await attempt(g, twinVictim, "tls-victim");
  assert.equal(m.kind, "connack");
  assert.equal(m.kind === "connack" && m.code, 5);
  if (m.kind === "connack") m.client.end(true);
});

test("a revoked device's certificate completes a TLS handshake but is refused everywhere", async () => {
  assert.equal((await api("/api/v1/devices", revoked)).status, 403);
  const re = await httpsRequest(`${g.estUrl}/.well-known/est/simplereenroll`, { ca: g.caPem, method: "POST", body: "AAAA", headers: { "content-type": "application/pkcs10" }, ...as(revoked) });
  assert.equal(re.status, 403);
  const m = await attempt(g, revoked, "tls-revoked");
  assert.equal(m.kind === "connack" ? m.code : m.kind, 5);
});

test("the genuine credentials still work (admin 200, device CONNACK 0)", async () => {
  assert.equal((await api("/api/v1/devices", admin)).status, 200);
  const m = await attempt(g, device, "tls-dev");
  assert.equal(m.kind === "connack" ? m.code : m.kind, 0);
  if (m.kind === "connack") m.client.end(true);
});

/** openssl s_client: handshake with `cred`, then `R` (renegotiate). Returns its output once it exits. */
async function sClientRenegotiate(port: number, cred: Credential) {
  const tag = crypto.randomBytes(4).toString("hex");
  const f = pemFiles(dir, `s-${tag}`, cred);
  const caFile = path.join(dir, "ca.pem");
  fs.writeFileSync(caFile, g.caPem);
  // `sleep` holds stdin open long enough for a completed renegotiation to be visible as a still-open connection.
  return run("sh", ["-c", `(sleep 1; printf 'R\\n'; sleep 6) | openssl s_client -connect 127.0.0.1:${port} -tls1_2 -cert ${f.cert} -key ${f.key} -CAfile ${caFile} -servername localhost 2>&1`], 30_000);
}

for (const port of ["https", "mqtts"] as const) {
  test(`openssl s_client -tls1_2 then R on the ${port} port: the renegotiation is refused`, async () => {
    const r = await sClientRenegotiate(port === "https" ? g.gw.httpsPort : g.gw.mqttsPort, device);
    assert.match(r.stdout, /RENEGOTIATING/);
    const after = r.stdout.slice(r.stdout.indexOf("RENEGOTIATING"));
    assert.match(after, /error:[0-9A-F]+:SSL routines/, after);
    assert.doesNotMatch(after, /verify return:1/, "no second certificate exchange completed");
  });
}

test("refused renegotiations are logged with FG_TLS_RENEGOTIATION and the serial of the certificate the connection keeps", () => {
  const lines = logged(g, "FG_TLS_RENEGOTIATION");
  assert.ok(lines.some((l) => l.part === "https" && l.serial === device.serial), "an HTTPS line");
  assert.ok(lines.some((l) => l.part !== "https" && l.serial === device.serial), "an MQTT line");
  assert.ok(lines.every((l) => l.serial !== admin.serial), "never the serial the client tried to switch to");
});
