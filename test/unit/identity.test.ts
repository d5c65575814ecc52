import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { clientIdBound, identify, registryRefusal, type Identity } from "../../broker/identity.js";
import { examinePeer } from "../../pki/peer.js";
import { certFacts } from "../../pki/cert-facts.js";
import { referenceCertFacts } from "../helpers/reference-cert-facts.js";
import { ensurePki } from "../../enroll/pki.js";
import { CertSigner, makeIssuer } from "../../pki/signer.js";
import { caProfile, clientProfile, type CertTemplate } from "../../enroll/profile.js";
import { OID, ROLE_POLICY_OIDS } from "../../pki/roles.js";
import { silentLogger } from "../../log.js";
import type { CertStanding, Role } from "../../db/types.js";
import { foreignCa, newEcKey } from "../../testkit/certs.js";
import { ED25519_IDENTITY, ed25519Spki, rsaE1Key } from "../helpers/weak-keys.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fg-identity-"));
const pki = ensurePki({ dataDir: dir, hostnames: ["localhost"], curve: "P-256", clock: Date.now, log: silentLogger() });
const issuing = new crypto.X509Certificate(pki.issuingDer);
const issuingKey = crypto.createPrivateKey(fs.readFileSync(pki.paths.issuingKey));
const issuingSigner = new CertSigner(makeIssuer(pki.issuingDer, issuingKey));
const rootSigner = new CertSigner(makeIssuer(pki.rootDer, crypto.createPrivateKey(fs.readFileSync(pki.paths.rootKey))));
/** A forger's signer: the issuing CA's name and key identifier (so the AKI matches), the forger's key. */
const forgerSigner = new CertSigner({ ...makeIssuer(pki.issuingDer, issuingKey), key: newEcKey().privateKey });
const NOW = Date.now();
const DAY = 86_400_000;

function client(role: Role, name: string, over: Partial<CertTemplate> = {}, signer = issuingSigner, spkiDer: Buffer = newEcKey().spkiDer): crypto.X509Certificate {
  const t = { ...clientProfile({ role, name, now: NOW, days: 30, crlUrl: "https://localhost/crl" }), ...over };
  return new crypto.X509Certificate(signer.sign(t, spkiDer).der);
}

const cases: { name: string; cert: () => crypto.X509Certificate; role?: Role; code?: string; reason?: RegExp }[] = [
  { name: "ok/device", cert: () => client("device", "d1"), role: "device" },
  { name: "ok/service", cert: () => client("service", "svc"), role: "service" },
  { name: "ok/admin", cert: () => client("admin", "ops"), role: "admin" },
  { name: "fail/unknown CA (self-made CA, device CN and role policy)", cert: () => new crypto.X509Certificate(foreignCa().issue("d1").certPem), code: "FG_MQTT_CERT_INVALID", reason: /issuing CA/ },
  { name: "fail/forged: issuing CA's name and key identifier, admin policy, signed by another key", cert: () => client("admin", "ops", {}, forgerSigner), code: "FG_MQTT_CERT_INVALID", reason: /issuing CA/ },
  { name: "fail/forged: issuing CA's name and key identifier, device d1, signed by another key", cert: () => client("device", "d1", {}, forgerSigner), code: "FG_MQTT_CERT_INVALID", reason: /issuing CA/ },
  { name: "fail/issued directly by the root CA", cert: () => client("device", "d1", {}, rootSigner), code: "FG_MQTT_CERT_INVALID", reason: /issuing CA/ },
  { name: "fail/expired", cert: () => client("device", "d1", { notBefore: new Date(NOW - 40 * DAY), notAfter: new Date(NOW - 10 * DAY) }), code: "FG_CERT_EXPIRED", reason: /expired/ },
  { name: "fail/not yet valid", cert: () => client("device", "d1", { notBefore: new Date(NOW + DAY), notAfter: new Date(NOW + 30 * DAY) }), code: "FG_CERT_EXPIRED", reason: /not yet valid/ },
  { name: "fail/wrong EKU (serverAuth)", cert: () => client("device", "d1", { extKeyUsage: [OID.serverAuth] }), code: "FG_MQTT_CERT_INVALID", reason: /clientAuth/ },
  { name: "fail/no EKU", cert: () => client("device", "d1", { extKeyUsage: [] }), code: "FG_MQTT_CERT_INVALID", reason: /clientAuth/ },
  { name: "fail/no role policy", cert: () => client("device", "d1", { policies: [] }), code: "FG_MQTT_CERT_INVALID", reason: /role/ },
  { name: "fail/two role policies", cert: () => client("device", "d1", { policies: [ROLE_POLICY_OIDS.device, ROLE_POLICY_OIDS.admin] }), code: "FG_MQTT_CERT_INVALID", reason: /role/ },
  { name: "fail/CA certificate with a role", cert: () => client("admin", "ops", { ca: true, keyUsage: caProfile({ name: "x", now: NOW, days: 1 }).keyUsage }), code: "FG_MQTT_CERT_INVALID", reason: /CA/ },
  { name: "fail/CN not a valid name", cert: () => client("device", "bad name!"), code: "FG_MQTT_CERT_INVALID", reason: /CN/ },
  // Issued by our CA before keys were judged: TLS client auth under these keys can be forged by anyone.
  { name: "fail/RSA e = 1 key", cert: () => client("device", "d1", {}, issuingSigner, rsaE1Key().spkiDer), code: "FG_MQTT_CERT_INVALID", reason: /exponent 1 / },
  { name: "fail/small-order Ed25519 key", cert: () => client("device", "d1", {}, issuingSigner, ed25519Spki(ED25519_IDENTITY)), code: "FG_MQTT_CERT_INVALID", reason: /small order/ },
  { name: "ok/RSA 2048 key (e = 65537)", cert: () => client("device", "d1", {}, issuingSigner, crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" })), role: "device" },
  { name: "ok/Ed25519 key", cert: () => client("device", "d1", {}, issuingSigner, crypto.generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" })), role: "device" },
];

for (const c of cases) {
  test(`identity ${c.name}`, () => {
    const peer = examinePeer(c.cert(), issuing);
    const r = identify(peer, NOW);
    if (c.role) {
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.identity.role, c.role);
      assert.equal(r.identity.serial, peer.facts!.serial);
      assert.match(r.identity.serial, /^[0-9a-f]+$/);
    } else {
      assert.ok(!r.ok, "must be refused");
      assert.equal(r.code, c.code);
      assert.match(r.reason, c.reason!);
    }
  });
}

for (const c of cases) {
  test(`certificate facts equal the full ASN.1 parse: ${c.name}`, () => {
    const x = c.cert();
    const full = referenceCertFacts(x.raw);
    const f = certFacts(x.raw);
    assert.deepEqual({ ...f, extKeyUsage: [...f.extKeyUsage], subject: [...f.subject] }, { ...full, extKeyUsage: [...full.extKeyUsage], subject: [...full.subject] });
  });
}

test("certificate facts: malformed DER throws (and is refused upstream), never loops", () => {
  const x = client("device", "d1");
  for (const raw of [Buffer.alloc(0), Buffer.from([0x30]), Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), x.raw.subarray(0, 100), Buffer.from([0x30, 0x03, 0x30, 0x01])]) {
    assert.throws(() => certFacts(raw));
  }
});

test("examinePeer: the verdict names the whole certificate (SHA-256 of its DER), and a forged twin differs", () => {
  const serial = Buffer.from("7a11ce", "hex");
  const t = clientProfile({ role: "admin", name: "ops", now: NOW, days: 30, crlUrl: "https://localhost/crl" });
  const real = new crypto.X509Certificate(issuingSigner.sign(t, newEcKey().spkiDer, { serial }).der);
  const forged = new crypto.X509Certificate(forgerSigner.sign(t, newEcKey().spkiDer, { serial }).der);
  const a = examinePeer(real, issuing);
  const b = examinePeer(forged, issuing);
  assert.equal(a.fingerprint, crypto.createHash("sha256").update(real.raw).digest("hex"));
  assert.equal(a.facts!.serial, b.facts!.serial);
  assert.equal(forged.checkIssued(issuing), true, "the forgery passes the name/key-identifier check");
  assert.equal(a.issuedByIssuingCa, true);
  assert.equal(b.issuedByIssuingCa, false, "but not the signature check");
  assert.notEqual(a.fingerprint, b.fingerprint);
});

test("identity fail/no certificate at all", () => {
  const r = identify(undefined, NOW);
  assert.ok(!r.ok);
  assert.equal(r.code, "FG_MQTT_NO_CERT");
});

test("identity fail/unparseable certificate facts", () => {
  const r = identify({ facts: undefined, issuedByIssuingCa: true, fingerprint: "00" }, NOW);
  assert.ok(!r.ok);
  assert.equal(r.code, "FG_MQTT_CERT_INVALID");
});

test("identity: validity bounds are inclusive and re-checked against the given clock", () => {
  const peer = examinePeer(client("device", "d1"), issuing);
  const f = peer.facts!;
  assert.equal(identify(peer, f.notBefore).ok, true);
  assert.equal(identify(peer, f.notAfter).ok, true);
  assert.equal(identify(peer, f.notBefore - 1).ok, false);
  assert.equal(identify(peer, f.notAfter + 1).ok, false);
});

const dev: Identity = { role: "device", name: "d1", serial: "ab", fingerprint: "fd" };
const svc: Identity = { role: "service", name: "svc", serial: "cd", fingerprint: "fs" };
const bindings: [Identity, string, boolean][] = [
  [dev, "d1", true], [dev, "d2", false], [dev, "d1-x", false], [dev, "", false], [dev, "D1", false],
  [svc, "svc", true], [svc, "svc-1", true], [svc, "svc-", true], [svc, "svc1", false], [svc, "sv", false], [svc, "d1", false], [svc, "x-svc", false],
];
for (const [id, clientId, ok] of bindings) {
  test(`clientId binding ${ok ? "ok" : "fail"}/${id.role} ${id.name} as ${JSON.stringify(clientId)}`, () => assert.equal(clientIdBound(id, clientId), ok));
}

const standing = (o: Partial<CertStanding>): CertStanding => ({ role: "device", name: "d1", deviceId: "d1", status: "valid", deviceStatus: "active", fingerprint: "fd", ...o });
const registry: [string, Identity, CertStanding | undefined, string | undefined][] = [
  ["ok/active device, valid cert", dev, standing({}), undefined],
  ["ok/registered service", svc, standing({ role: "service", name: "svc", deviceId: null, deviceStatus: null, fingerprint: "fs" }), undefined],
  ["fail/unregistered serial", dev, undefined, "FG_CERT_UNKNOWN"],
  ["fail/revoked device", dev, standing({ deviceStatus: "revoked", status: "revoked" }), "FG_DEVICE_REVOKED"],
  ["fail/revoked cert of an active device", dev, standing({ status: "revoked" }), "FG_CERT_REVOKED"],
  ["fail/cert registered to another device", dev, standing({ name: "d2", deviceId: "d2" }), "FG_CERT_UNKNOWN"],
  ["fail/cert registered with another role", dev, standing({ role: "service", deviceId: null, deviceStatus: null }), "FG_CERT_UNKNOWN"],
  ["fail/same serial, name and role but another certificate (forged copy)", dev, standing({ fingerprint: "0badf00d" }), "FG_CERT_UNKNOWN"],
  ["fail/service serial registered, another certificate presented", svc, standing({ role: "service", name: "svc", deviceId: null, deviceStatus: null, fingerprint: "fd" }), "FG_CERT_UNKNOWN"],
  ["fail/device row missing", dev, standing({ deviceStatus: null }), "FG_DEVICE_UNKNOWN"],
  ["fail/revoked service cert", svc, standing({ role: "service", name: "svc", deviceId: null, deviceStatus: null, status: "revoked", fingerprint: "fs" }), "FG_CERT_REVOKED"],
];
for (const [name, id, st, code] of registry) {
  test(`registry ${name}`, () => assert.equal(registryRefusal(id, st)?.code, code));
}
