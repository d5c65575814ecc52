import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect } from "../../testkit/certs.js";
import { httpsRequest } from "../helpers/https.js";
import { hashToken } from "../../enroll/tokens.js";
import { sq } from "../../testkit/registry.js";

let g: TestGateway;
let admin: { cert: string; key: string };
let service: { cert: string; key: string };
let device: { cert: string; key: string; serial: string };

before(async () => {
  g = await startTestGateway();
  admin = { cert: fs.readFileSync(g.paths.adminCert, "utf8"), key: fs.readFileSync(g.paths.adminKey, "utf8") };
  const s = issueDirect(g.gw.deps, "backend", { role: "service" });
  service = { cert: s.certPem, key: s.keyPem };
  const d = issueDirect(g.gw.deps, "dev-api-1");
  device = { cert: d.certPem, key: d.keyPem, serial: d.serial };
});
after(async () => g.close());

const api = (p: string, o: { method?: string; json?: unknown; body?: string; headers?: Record<string, string>; as?: { cert: string; key: string } | null } = {}) =>
  httpsRequest(`${g.estUrl}${p}`, { ca: g.caPem, method: o.method, json: o.json, body: o.body, headers: o.headers, ...(o.as === null ? {} : (o.as ?? admin)) });

test("no client certificate is 401, service and device certificates are 403, admin is 200", async () => {
  const none = await api("/api/v1/devices", { as: null });
  assert.equal(none.status, 401);
  assert.equal(none.json<{ code: string }>().code, "FG_ADMIN_CERT_REQUIRED");
  const svc = await api("/api/v1/devices", { as: service });
  assert.equal(svc.status, 403);
  assert.equal(svc.json<{ code: string }>().code, "FG_ROLE_FORBIDDEN");
  assert.equal((await api("/api/v1/devices", { as: device })).status, 403);
  assert.equal((await api("/api/v1/tokens", { as: device, method: "POST", json: { deviceId: "x" } })).status, 403);
  const ok = await api("/api/v1/devices");
  assert.equal(ok.status, 200);
  assert.ok(ok.json<{ id: string }[]>().some((d) => d.id === "dev-api-1"));
});

test("GET /api/v1/devices/:id has the contract's shape; bad ids are 400, unknown 404", async () => {
  const r = await api("/api/v1/devices/dev-api-1");
  assert.equal(r.status, 200);
  const d = r.json<Record<string, unknown> & { certificates: Record<string, unknown>[] }>();
  assert.deepEqual(Object.keys(d).sort(), ["certificates", "id", "lastSeen", "online", "status"]);
  assert.equal(d.status, "active");
  assert.deepEqual(Object.keys(d.certificates[0]!).sort(), ["notAfter", "notBefore", "serial", "status"]);
  assert.equal(d.certificates[0]!.serial, device.serial);
  const bad = await api("/api/v1/devices/bad%20id");
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json(), { code: "FG_DEVICE_ID_INVALID", message: "device id must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" });
  const missing = await api("/api/v1/devices/nobody");
  assert.equal(missing.status, 404);
  assert.equal(missing.json<{ code: string }>().code, "FG_NOT_FOUND");
});

test("?expiringWithin filters on the newest valid certificate", async () => {
  issueDirect(g.gw.deps, "dev-expiring", { days: 3 });
  const in7 = (await api("/api/v1/devices?expiringWithin=7d")).json<{ id: string }[]>().map((d) => d.id);
  assert.ok(in7.includes("dev-expiring"));
  assert.ok(!in7.includes("dev-api-1"), "a 30-day certificate is not expiring within 7d");
  assert.equal((await api("/api/v1/devices?expiringWithin=soon")).status, 400);
  assert.equal((await api("/api/v1/devices?bogus=1")).status, 400);
});

test("POST /api/v1/tokens returns a usable token; bad bodies are 4xx JSON, never 500", async () => {
  const r = await api("/api/v1/tokens", { method: "POST", json: { deviceId: "dev-new", ttlSeconds: 600 } });
  assert.equal(r.status, 201);
  const t = r.json<{ deviceId: string; token: string; expiresAt: string }>();
  assert.equal(t.deviceId, "dev-new");
  assert.match(t.token, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(Math.abs(Date.parse(t.expiresAt) - Date.now() - 600_000) < 5000);
  assert.equal(sq(g.gw.deps.store).sync.tokens.get(hashToken(t.token))?.deviceId, "dev-new");
  for (const [body, ct] of [
    [JSON.stringify({ deviceId: "bad id" }), "application/json"],
    [JSON.stringify({ deviceId: "x", ttlSeconds: -5 }), "application/json"],
    [JSON.stringify({ deviceId: "x", ttlSeconds: "10" + "0".repeat(20) }), "application/json"],
    [JSON.stringify({ deviceId: "x", extra: true }), "application/json"],
    [JSON.stringify({}), "application/json"],
    ["{not json", "application/json"],
    ["deviceId=x", "application/x-www-form-urlencoded"],
  ] as const) {
    const bad = await api("/api/v1/tokens", { method: "POST", body, headers: { "content-type": ct } });
    assert.ok(bad.status >= 400 && bad.status < 500, `${body}: ${bad.status}`);
    const j = bad.json<{ code: string; message: string }>();
    assert.match(j.code, /^FG_/);
    assert.equal(typeof j.message, "string");
  }
  // The token itself never reaches the log or the audit trail.
  assert.ok(!g.logs.text().includes(t.token));
  assert.ok(!JSON.stringify(sq(g.gw.deps.store).sync.audit.newest(1000)).includes(t.token));
});

test("revoke through the API: idempotent, audited with the admin, and the serial is in the CRL (openssl crl)", async () => {
  const d = issueDirect(g.gw.deps, "dev-rev");
  const r1 = await api("/api/v1/devices/dev-rev/revoke", { method: "POST", json: { reason: "keyCompromise" } });
  assert.equal(r1.status, 200);
  assert.deepEqual(r1.json<{ serials: string[] }>().serials, [d.serial]);
  const r2 = await api("/api/v1/devices/dev-rev/revoke", { method: "POST", json: { reason: "keyCompromise" } });
  assert.equal(r2.status, 200);
  assert.equal(r2.json<{ alreadyRevoked: boolean }>().alreadyRevoked, true);
  assert.equal((await api("/api/v1/devices/dev-rev/revoke", { method: "POST", json: { reason: "boredom" } })).status, 400);
  assert.equal((await api("/api/v1/devices/ghost/revoke", { method: "POST", json: {} })).status, 404);
  const view = (await api("/api/v1/devices/dev-rev")).json<{ status: string; certificates: { status: string }[] }>();
  assert.equal(view.status, "revoked");
  assert.equal(view.certificates[0]!.status, "revoked");

  const crl = await httpsRequest(`${g.estUrl}/crl`, { ca: g.caPem });
  assert.equal(crl.status, 200);
  assert.equal(crl.headers["content-type"], "application/pkix-crl");
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, "crl.der"), crl.body);
  const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", path.join(dir, "crl.der"), "-noout", "-text", "-CAfile", g.paths.issuingCert], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  assert.match(text, new RegExp(`Serial Number: ${d.serial.toUpperCase()}`));
  assert.match(text, /Key Compromise/);
  assert.match(text, /X509v3 CRL Number/);
  assert.match(text, /Next Update/);
  // The CRL's signature verifies against the issuing CA.
  const verify = spawnSync("openssl", ["crl", "-inform", "DER", "-in", path.join(dir, "crl.der"), "-noout", "-CAfile", g.paths.issuingCert], { encoding: "utf8" });
  assert.equal(verify.status, 0, verify.stderr);
  assert.match(verify.stderr + verify.stdout, /verify OK/);

  const audit = (await api("/api/v1/audit?limit=50")).json<{ type: string; actor: string; deviceId: string; at: string }[]>();
  const ev = audit.find((e) => e.type === "device.revoked" && e.deviceId === "dev-rev");
  assert.ok(ev, "revocation audited");
  assert.equal(ev.actor, "admin:admin");
  assert.ok(Date.parse(audit[0]!.at) >= Date.parse(audit[audit.length - 1]!.at), "newest first");
  assert.equal((await api("/api/v1/audit?limit=0")).status, 400);
  assert.equal((await api("/api/v1/audit?limit=abc")).status, 400);
  const one = (await api("/api/v1/audit?deviceId=dev-rev")).json<{ deviceId: string }[]>();
  assert.ok(one.length >= 2 && one.every((e) => e.deviceId === "dev-rev"));
});

test("/crl needs no client certificate and parses even when empty", async () => {
  const g2 = await startTestGateway();
  try {
    const crl = await httpsRequest(`${g2.estUrl}/crl`, { ca: g2.caPem });
    assert.equal(crl.status, 200);
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "crl.der"), crl.body);
    const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", path.join(dir, "crl.der"), "-noout", "-text"], { encoding: "utf8" });
    assert.match(text, /No Revoked Certificates/);
  } finally {
    await g2.close();
  }
});

test("/metrics is Prometheus text with gateway_ metrics, on 127.0.0.1", async () => {
  const res = await fetch(`http://127.0.0.1:${g.gw.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
  const text = await res.text();
  for (const name of ["gateway_mqtt_connections", "gateway_enrollments_total", "gateway_certificates_expiring", "gateway_acl_denials_total", "gateway_enrollment_duration_seconds"]) {
    assert.match(text, new RegExp(`# TYPE ${name} `), name);
  }
  assert.match(text, /gateway_certificates_expiring\{within="7d"\} \d+/);
  // Every sample line is `name{labels} value` or `name value`.
  for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
    assert.match(line, /^gateway_[a-z_]+(\{[^}]*\})? (-?[0-9.e+]+|NaN|\+Inf)$/, line);
  }
  assert.equal((await fetch(`http://127.0.0.1:${g.gw.metricsPort}/other`)).status, 404);
});
