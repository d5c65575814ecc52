import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { foreignCa, issueDirect, newEcKey, type Credential } from "../../testkit/certs.js";
import { CertSigner, makeIssuer } from "../../pki/signer.js";
import { clientProfile } from "../../enroll/profile.js";
import { revokeDevice } from "../../enroll/fleet.js";
import { attempt, connect, granted, inbox, logged, until, type Attempt } from "./broker-helpers.js";

let g: TestGateway;
before(async () => {
  g = await startTestGateway();
});
after(async () => {
  await g.close();
});

const connackOf = (a: Attempt) => (a.kind === "connack" ? a.code : a.kind);
/** The TLS layer refused: no CONNACK at all (TLS 1.3 reports the server's alert after the client's handshake). */
const noConnack = (a: Attempt) => a.kind === "error" || a.kind === "closed";

test("clientId spoofing is refused with CONNACK 5; the real session is not taken over", async () => {
  const d1 = issueDirect(g.gw.deps, "d1");
  const d2 = issueDirect(g.gw.deps, "d2");
  const victim = await connect(g, d2, "d2");
  const box = inbox(victim);
  await granted(victim, ["devices/d2/commands/#"]);
  assert.equal(connackOf(await attempt(g, d1, "d2")), 5);
  assert.equal(connackOf(await attempt(g, d1, "")), 5, "an empty clientId gets a generated one, not the device id");
  assert.equal(connackOf(await attempt(g, d1, "d1-extra")), 5);
  const line = logged(g, "FG_MQTT_CLIENTID_MISMATCH").find((l) => l.clientId === "d2");
  assert.ok(line && line.serial === d1.serial && line.deviceId === "d1", "refusal logged with code, serial and device");
  // The victim's session survived: a command still reaches it.
  const svc = issueDirect(g.gw.deps, "svc-a", { role: "service" });
  const s = await connect(g, svc, "svc-a");
  await s.publishAsync("devices/d2/commands/ping", "1", { qos: 1 });
  await box.waitFor((m) => m.topic === "devices/d2/commands/ping");
  assert.ok(victim.connected);
  victim.end(true);
  s.end(true);
});

test("a service clientId is its name or starts with <name>-, and never a device id", async () => {
  const svc = issueDirect(g.gw.deps, "svc", { role: "service" });
  issueDirect(g.gw.deps, "svc-dev");
  const ok = await attempt(g, svc, "svc-worker-1");
  assert.equal(connackOf(ok), 0);
  if (ok.kind === "connack") ok.client.end(true);
  assert.equal(connackOf(await attempt(g, svc, "svcX")), 5);
  assert.equal(connackOf(await attempt(g, svc, "other")), 5);
  assert.equal(connackOf(await attempt(g, svc, "svc-dev")), 5, "would close device svc-dev's session");
});

test("username and password are ignored: the certificate decides", async () => {
  const d3 = issueDirect(g.gw.deps, "d3");
  const c = await connect(g, d3, "d3", { username: "ops", password: Buffer.from("anything") });
  assert.deepEqual(await granted(c, ["$SYS/#", "devices/#"]), [0x80, 0x80]);
  c.end(true);
});

test("a self-signed CA's certificate with a device's CN and role never reaches CONNACK 0", async () => {
  issueDirect(g.gw.deps, "d4");
  const forged = foreignCa().issue("d4");
  const r = await attempt(g, forged, "d4");
  assert.ok(noConnack(r), JSON.stringify(connackOf(r)));
  await until(() => logged(g, "FG_MQTT_TLS_FAILED").some((l) => l.tlsError === "UNABLE_TO_VERIFY_LEAF_SIGNATURE"), 5000, "TLS refusal log line");
});

test("expired and not-yet-valid certificates never reach CONNACK 0", async () => {
  const expired = issueDirect(g.gw.deps, "d5", { days: 1, ageDays: 3 });
  const early = issueDirect(g.gw.deps, "d6", { notYetValidDays: 2 });
  for (const [c, id] of [[expired, "d5"], [early, "d6"]] as const) {
    const r = await attempt(g, c, id);
    assert.ok(noConnack(r), `${id}: ${JSON.stringify(connackOf(r))}`);
  }
  await until(() => logged(g, "FG_CERT_EXPIRED").filter((l) => l.tlsError === "CERT_HAS_EXPIRED" || l.tlsError === "CERT_NOT_YET_VALID").length === 2, 5000, "both refusals logged");
});

test("no client certificate never reaches CONNACK 0", async () => {
  const r = await attempt(g, { certPem: undefined as unknown as string, keyPem: undefined as unknown as string }, "d1");
  assert.ok(noConnack(r), JSON.stringify(connackOf(r)));
});

test("a revoked device's certificate gets CONNACK 5", async () => {
  const c = issueDirect(g.gw.deps, "d7");
  const before = await attempt(g, c, "d7");
  assert.equal(connackOf(before), 0);
  if (before.kind === "connack") before.client.end(true);
  await revokeDevice(g.gw.deps, "d7", "keyCompromise", "test");
  assert.equal(connackOf(await attempt(g, c, "d7")), 5);
  assert.ok(logged(g, "FG_DEVICE_REVOKED").some((l) => l.serial === c.serial && l.clientId === "d7"));
});

test("a certificate missing from the registry gets CONNACK 5 (device and service)", async () => {
  issueDirect(g.gw.deps, "d8");
  const stray = issueDirect(g.gw.deps, "d8", { register: false });
  assert.equal(connackOf(await attempt(g, stray, "d8")), 5);
  const straySvc = issueDirect(g.gw.deps, "svc-stray", { role: "service", register: false });
  assert.equal(connackOf(await attempt(g, straySvc, "svc-stray")), 5);
  assert.ok(logged(g, "FG_CERT_UNKNOWN").some((l) => l.serial === stray.serial));
});

test("a client certificate signed by the root CA itself (not the issuing CA) gets CONNACK 5", async () => {
  const rootKey = crypto.createPrivateKey(fs.readFileSync(g.paths.rootKey));
  const signer = new CertSigner(makeIssuer(g.gw.deps.ca.rootDer, rootKey));
  const k = newEcKey();
  const issued = signer.sign(clientProfile({ role: "admin", name: "rogue", now: Date.now(), days: 5, crlUrl: "https://localhost/crl" }), k.spkiDer);
  // Registered, so only the issuer check can refuse it.
  g.gw.deps.store.certificates.insert({ serial: issued.serial, role: "admin", name: "rogue", deviceId: null, notBefore: issued.notBefore, notAfter: issued.notAfter, issuedAt: Date.now(), pem: issued.pem });
  const cred: Credential = { certPem: issued.pem, keyPem: k.keyPem, serial: issued.serial, privateKey: k.privateKey };
  assert.equal(connackOf(await attempt(g, cred, "rogue")), 5);
  assert.ok(logged(g, "FG_MQTT_CERT_INVALID").some((l) => l.serial === issued.serial && /issuing CA/.test(String(l.reason))));
});

test("refusals are counted by result in the connects metric", async () => {
  const text = await (await fetch(`http://127.0.0.1:${g.gw.metricsPort}/metrics`)).text();
  assert.match(text, /gateway_mqtt_connects_total\{result="accepted"\} [1-9]/);
  assert.match(text, /gateway_mqtt_connects_total\{result="FG_MQTT_CLIENTID_MISMATCH"\} [1-9]/);
  assert.match(text, /gateway_mqtt_connects_total\{result="FG_MQTT_TLS_FAILED"\} [1-9]/);
  assert.match(text, /gateway_mqtt_connects_total\{result="FG_CERT_EXPIRED"\} [1-9]/);
});
