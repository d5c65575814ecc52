import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { CLI, startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { httpsRequest } from "../helpers/https.js";
import { csrFor } from "../helpers/est-tools.js";
import { EstClient, EstError } from "../../device-sim/est-client.js";
import { certFacts } from "../../pki/cert-facts.js";
import { fromPemAll } from "../../pki/der.js";
import { hashToken } from "../../enroll/tokens.js";
import { attempt, closed, connect } from "./broker-helpers.js";
import { sq } from "../../testkit/registry.js";

/** Issue 11 point 4: tokens an operator can list, cancel, and not mint by accident for a device in service. */
let g: TestGateway;
let est: EstClient;
let admin: { cert: string; key: string };
before(async () => {
  g = await startTestGateway();
  est = new EstClient({ baseUrl: g.estUrl, caPem: g.caPem });
  admin = { cert: fs.readFileSync(g.paths.adminCert, "utf8"), key: fs.readFileSync(g.paths.adminKey, "utf8") };
});
after(async () => g.close());

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args, "--data", g.dataDir], { encoding: "utf8", env: { PATH: process.env.PATH } });
const api = (p: string, o: { method?: string; json?: unknown } = {}) => httpsRequest(`${g.estUrl}${p}`, { ca: g.caPem, ...o, ...admin });

async function enrollStatus(deviceId: string, token: string): Promise<number> {
  try {
    await est.simpleEnroll(csrFor(deviceId).der, { deviceId, token });
    return 200;
  } catch (e) {
    if (e instanceof EstError) return e.status;
    throw e;
  }
}

/** Enrolls through EST; returns the credential for MQTT. */
async function enroll(deviceId: string, token: string) {
  const csr = csrFor(deviceId);
  const pem = await est.simpleEnroll(csr.der, { deviceId, token });
  return { certPem: pem, keyPem: csr.keyPem, serial: certFacts(fromPemAll(pem)[0]!).serial };
}

function crlSerials(der: Buffer): string[] {
  const f = path.join(tmpDir(), "crl.der");
  fs.writeFileSync(f, der);
  const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", f, "-noout", "-text"], { encoding: "utf8" });
  return [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.replace(/^0+/, "").toLowerCase());
}
const bare = (serial: string) => serial.replace(/^0+/, "").toLowerCase();

test("token list shows outstanding tokens by device id, never the secret; token revoke cancels them", async () => {
  const created = cli("token", "create", "tk-1", "--ttl", "2h");
  assert.equal(created.status, 0, created.stderr);
  const secret = created.stdout.trim();
  const list = cli("token", "list", "--json");
  assert.equal(list.status, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { deviceId: string; createdAt: string; expiresAt: string }[];
  const row = rows.find((r) => r.deviceId === "tk-1");
  assert.ok(row, list.stdout);
  assert.ok(Date.parse(row.expiresAt) - Date.parse(row.createdAt) > 7000_000);
  assert.ok(!list.stdout.includes(secret) && !list.stdout.includes(hashToken(secret)), "no secret, no hash");
  assert.match(cli("token", "list").stdout, /^DEVICE\s+CREATED\s+EXPIRES/);
  const rev = cli("token", "revoke", "tk-1");
  assert.equal(rev.status, 0, rev.stderr);
  assert.match(rev.stdout, /cancelled 1 token/);
  assert.ok(!(JSON.parse(cli("token", "list", "--json").stdout) as { deviceId: string }[]).some((r) => r.deviceId === "tk-1"));
  assert.equal(await enrollStatus("tk-1", secret), 401, "a cancelled token never enrolls");
  assert.equal(cli("token", "revoke", "tk-1").status, 0, "cancelling again is harmless");
  assert.ok(sq(g.gw.deps.store).sync.audit.forDevice("tk-1", 5).some((e) => e.type === "token.revoked" && e.actor?.startsWith("cli:")));
});

test("devices revoke of a never-enrolled device cancels its tokens (CLI and API); a wholly unknown device is still 404", async () => {
  const secret = cli("token", "create", "tk-2").stdout.trim();
  const r = cli("devices", "revoke", "tk-2");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /never enrolled; cancelled 1 outstanding token/);
  assert.equal(await enrollStatus("tk-2", secret), 401);

  const created = await api("/api/v1/tokens", { method: "POST", json: { deviceId: "tk-3" } });
  assert.equal(created.status, 201);
  const res = await api("/api/v1/devices/tk-3/revoke", { method: "POST", json: { reason: "cessationOfOperation" } });
  assert.equal(res.status, 200, res.text());
  assert.equal(res.json<{ status: string; tokensCancelled: number }>().status, "tokensCancelled");
  assert.equal(res.json<{ tokensCancelled: number }>().tokensCancelled, 1);
  assert.equal(await enrollStatus("tk-3", created.json<{ token: string }>().token), 401);
  assert.equal((await api("/api/v1/devices/nobody-at-all/revoke", { method: "POST", json: {} })).status, 404);
  assert.equal(cli("devices", "revoke", "nobody-at-all").status, 1);
});

test("GET /api/v1/tokens lists without secrets; DELETE /api/v1/tokens/:deviceId cancels", async () => {
  const t = (await api("/api/v1/tokens", { method: "POST", json: { deviceId: "tk-api", ttlSeconds: 600 } })).json<{ token: string; expiresAt: string }>();
  const list = await api("/api/v1/tokens");
  assert.equal(list.status, 200);
  const row = list.json<{ deviceId: string; expiresAt: string }[]>().find((x) => x.deviceId === "tk-api");
  assert.equal(row?.expiresAt, t.expiresAt);
  assert.ok(!list.text().includes(t.token) && !list.text().includes(hashToken(t.token)));
  const del = await api("/api/v1/tokens/tk-api", { method: "DELETE" });
  assert.equal(del.status, 200, del.text());
  assert.deepEqual(del.json(), { deviceId: "tk-api", cancelled: 1 });
  assert.ok(!(await api("/api/v1/tokens")).json<{ deviceId: string }[]>().some((x) => x.deviceId === "tk-api"));
  assert.equal(await enrollStatus("tk-api", t.token), 401);
  assert.equal((await api("/api/v1/tokens/bad%20id", { method: "DELETE" })).status, 400);
  assert.equal((await httpsRequest(`${g.estUrl}/api/v1/tokens`, { ca: g.caPem })).status, 401, "no certificate, no list");
});

test("a batch continues after the highest id of its prefix held by a device or a token", async () => {
  const first = cli("token", "create", "--count", "2", "--prefix", "bt");
  assert.equal(first.status, 0, first.stderr);
  const lines = first.stdout.trim().split("\n").map((l) => l.split(","));
  assert.deepEqual(lines.map((l) => l[0]), ["bt000001", "bt000002"]);
  await enroll("bt000001", lines[0]![1]!);
  const second = cli("token", "create", "--count", "2", "--prefix", "bt");
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(second.stdout.trim().split("\n").map((l) => l.split(",")[0]), ["bt000003", "bt000004"], "never P000001 again");
  assert.equal(cli("token", "create", "bt000041").status, 0);
  assert.deepEqual(cli("token", "create", "--count", "1", "--prefix", "bt").stdout.trim().split(",")[0], "bt000042");
  assert.equal(cli("token", "create", "--count", "1", "--prefix", "bt", "--reprovision").status, 2, "a batch never re-provisions");
});

test("a token for an enrolled device needs --reprovision; enrolling with it supersedes the old certificates", async () => {
  const old = await enroll("rp-1", cli("token", "create", "rp-1").stdout.trim());
  const live = await connect(g, old, "rp-1");

  const refused = cli("token", "create", "rp-1");
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /already has a valid certificate.*--reprovision/);
  const apiRefused = await api("/api/v1/tokens", { method: "POST", json: { deviceId: "rp-1" } });
  assert.equal(apiRefused.status, 409);
  assert.equal(apiRefused.json<{ code: string }>().code, "FG_DEVICE_ENROLLED");
  assert.equal(cli("token", "create", "--count", "1", "--prefix", "rp-").stdout.split(",")[0], "rp-000002", "numbering skips rp-1 (\"1\")");

  const re = cli("token", "create", "rp-1", "--reprovision");
  assert.equal(re.status, 0, re.stderr);
  // Until it is used, the device's certificate stays valid.
  const again = await attempt(g, old, "rp-1");
  assert.ok(again.kind === "connack" && again.code === 0, JSON.stringify(again.kind));
  if (again.kind === "connack") again.client.end(true);
  await closed(live).catch(() => undefined); // the reconnect above took the session over

  const live2 = await connect(g, old, "rp-1");
  const fresh = await enroll("rp-1", re.stdout.trim());
  await closed(live2); // the superseded certificate's session is closed
  const view = JSON.parse(cli("devices", "list", "--json").stdout) as { id: string; status: string; certificates: { serial: string; status: string }[] }[];
  const dev = view.find((d) => d.id === "rp-1")!;
  assert.equal(dev.status, "active");
  assert.equal(dev.certificates.find((c) => c.serial === old.serial)?.status, "superseded");
  assert.equal(dev.certificates.find((c) => c.serial === fresh.serial)?.status, "valid");
  const crl = await httpsRequest(`${g.estUrl}/crl`, { ca: g.caPem });
  assert.ok(crlSerials(crl.body).includes(bare(old.serial)), "the superseded certificate is on the CRL");
  const oldAgain = await attempt(g, old, "rp-1");
  assert.ok(!(oldAgain.kind === "connack" && oldAgain.code === 0), "the old certificate is refused");
  const ok = await connect(g, fresh, "rp-1");
  ok.end(true);
  // Through the API as well.
  const apiRe = await api("/api/v1/tokens", { method: "POST", json: { deviceId: "rp-1", reprovision: true } });
  assert.equal(apiRe.status, 201, apiRe.text());
  assert.equal((await api("/api/v1/tokens", { method: "POST", json: { deviceId: "rp-1", reprovision: "yes" } })).status, 400);
});

test("a token minted before a device enrolled cannot enroll it a second time", async () => {
  const a = cli("token", "create", "rp-9").stdout.trim();
  const b = cli("token", "create", "rp-9").stdout.trim();
  const first = await enroll("rp-9", a);
  assert.equal(await enrollStatus("rp-9", b), 401);
  const c = await connect(g, first, "rp-9");
  assert.ok(c.connected, "the enrolled device was not disturbed");
  c.end(true);
});
