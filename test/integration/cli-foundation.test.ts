import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { CLI, initTestDataDir, spawnGateway, tmpDir } from "../../testkit/gateway.js";
import { openStore } from "../../db/open.js";
import { hashToken } from "../../enroll/tokens.js";
import { sq } from "../../testkit/registry.js";

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });

const mode = (f: string) => fs.statSync(f).mode & 0o777;

test("gateway start creates the data dir, PKI and admin credential with private modes; CLI commands reuse them", async () => {
  const data = path.join(tmpDir(), "data");
  const g = await spawnGateway(["--data", data, "--host", "127.0.0.1", "--https-port", "0", "--mqtts-port", "0", "--metrics-port", "0"]);
  assert.equal(await g.stop("SIGTERM"), 0);
  for (const f of ["gateway.db", "pki/ca.pem", "admin/admin.pem", "admin/admin.key", "pki/issuing.pem", "pki/server.pem"]) {
    assert.ok(fs.existsSync(path.join(data, f)), f);
  }
  for (const k of ["pki/ca.key", "pki/issuing.key", "pki/server.key", "admin/admin.key"]) assert.equal(mode(path.join(data, k)), 0o600, k);
  for (const d of ["", "pki", "admin"]) assert.equal(mode(path.join(data, d)), 0o700, d || "data dir");
  const before = new Map(["pki/ca.pem", "pki/server.pem", "admin/admin.pem"].map((f) => [f, fs.readFileSync(path.join(data, f), "utf8")]));
  // A CLI command with other --hostnames must not re-issue the server certificate: only start writes the PKI.
  assert.equal(run(["token", "create", "dev-1", "--data", data, "--hostnames", "elsewhere.example"]).status, 0);
  assert.equal(run(["token", "create", "dev-2", "--data", data]).status, 0);
  for (const [f, pem] of before) assert.equal(fs.readFileSync(path.join(data, f), "utf8"), pem, `${f} reused`);
});

test("commands other than start refuse a directory that is not a gateway's with exit 1 and create nothing", () => {
  const parent = tmpDir();
  const missing = path.join(parent, "no", "such", "dir");
  const empty = tmpDir();
  // A half-made directory (database but no PKI) is refused too; nothing is added to it.
  const halfMade = tmpDir();
  fs.writeFileSync(path.join(halfMade, "gateway.db"), "");
  for (const dir of [missing, empty, halfMade]) {
    const listing = () => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).sort() : null);
    const before = listing();
    for (const args of [
      ["devices", "list"],
      ["devices", "list", "--json"],
      ["devices", "revoke", "dev-1"],
      ["token", "create", "dev-1"],
      ["token", "create", "--count", "2", "--prefix", "p"],
      ["cert", "issue", "--role", "service", "--name", "svc", "--out", path.join(parent, "out")],
      ["sim", "--devices", "1"],
    ]) {
      const r = run([...args, "--data", dir]);
      assert.equal(r.status, 1, `${args.join(" ")} on ${dir}: ${r.stderr}`);
      assert.match(r.stderr, /not a gateway data directory/, args.join(" "));
      assert.equal(r.stdout, "");
      assert.deepEqual(listing(), before, `${args.join(" ")} created nothing in ${dir}`);
    }
  }
  assert.equal(fs.existsSync(path.join(parent, "no")), false);
  assert.equal(fs.existsSync(path.join(parent, "out")), false);
});

test("openssl verifies the admin, service and server certificates against pki/ca.pem", async () => {
  const data = await initTestDataDir();
  const out = path.join(data, "svc");
  const r = run(["cert", "issue", "--role", "service", "--name", "backend", "--out", out, "--data", data]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(mode(path.join(out, "backend.key")), 0o600);
  const ca = path.join(data, "pki/ca.pem");
  const untrusted = path.join(data, "pki/issuing.pem");
  for (const c of [path.join(data, "admin/admin.pem"), path.join(out, "backend.pem")]) {
    const v = execFileSync("openssl", ["verify", "-purpose", "sslclient", "-CAfile", ca, "-untrusted", untrusted, c], { encoding: "utf8" });
    assert.match(v, /: OK/);
  }
  const v = execFileSync("openssl", ["verify", "-purpose", "sslserver", "-CAfile", ca, "-untrusted", untrusted, path.join(data, "pki/server.pem")], { encoding: "utf8" });
  assert.match(v, /: OK/);
  const text = execFileSync("openssl", ["x509", "-in", path.join(data, "pki/server.pem"), "-noout", "-ext", "subjectAltName"], { encoding: "utf8" });
  assert.match(text, /DNS:localhost/);
  assert.match(text, /IP Address:127\.0\.0\.1/);
  // The root key signs only the issuing CA; the issuing CA is constrained to end entities.
  const issuing = execFileSync("openssl", ["x509", "-in", untrusted, "-noout", "-ext", "basicConstraints,keyUsage"], { encoding: "utf8" });
  assert.match(issuing, /CA:TRUE, pathlen:0/);
  assert.match(issuing, /Certificate Sign, CRL Sign/);
});

test("token create prints the token alone; --count prints CSV; only hashes are stored", async () => {
  const data = await initTestDataDir();
  const one = run(["token", "create", "dev-a", "--ttl", "1h", "--data", data]);
  assert.equal(one.status, 0, one.stderr);
  assert.match(one.stdout, /^[A-Za-z0-9_-]{43}\n$/);
  const many = run(["token", "create", "--count", "3", "--prefix", "sim", "--data", data]);
  assert.equal(many.status, 0, many.stderr);
  const lines = many.stdout.trim().split("\n");
  assert.deepEqual(lines.map((l) => l.split(",")[0]), ["sim000001", "sim000002", "sim000003"]);
  const store = openStore(path.join(data, "gateway.db"));
  try {
    const tok = lines[1]!.split(",")[1]!;
    const row = sq(store).sync.tokens.get(hashToken(tok))!;
    assert.equal(row.deviceId, "sim000002");
    const ttl = sq(store).sync.tokens.get(hashToken(one.stdout.trim()))!;
    assert.ok(Math.abs(ttl.expiresAt - ttl.createdAt - 3600_000) < 1000);
  } finally {
    store.close();
  }
});

test("usage errors exit 2 with a message on stderr; every subcommand answers --help", async () => {
  const data = await initTestDataDir();
  for (const args of [
    ["token", "create", "bad id!", "--data", data],
    ["token", "create", "dev", "--ttl", "soon", "--data", data],
    ["token", "create", "--count", "0", "--prefix", "x", "--data", data],
    ["devices", "revoke", "dev", "--reason", "boredom", "--data", data],
    ["devices", "frobnicate", "--data", data],
    ["cert", "issue", "--role", "device", "--name", "x", "--out", data, "--data", data],
    ["start", "--https-port", "99999"],
    ["start", "--no-such-flag"],
    ["nosuchcommand"],
  ]) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0, `message on stderr for ${args.join(" ")}`);
    assert.equal(r.stdout, "");
  }
  for (const c of ["start", "token", "devices", "cert", "sim"]) {
    const r = run([c, "--help"]);
    assert.equal(r.status, 0, c);
    assert.match(r.stdout, /Usage/);
  }
});

test("devices list --json and revoke work on the data dir; revoking an unknown device fails with 1", async () => {
  const data = await initTestDataDir();
  const store = openStore(path.join(data, "gateway.db"));
  const now = Date.now();
  sq(store).sync.devices.ensure("dev-9", now);
  sq(store).sync.certificates.insert({ serial: crypto.randomBytes(8).toString("hex"), role: "device", name: "dev-9", deviceId: "dev-9", notBefore: now - 1000, notAfter: now + 3 * 86_400_000, issuedAt: now, pem: "-" });
  store.close();
  const list = run(["devices", "list", "--json", "--data", data]);
  assert.equal(list.status, 0, list.stderr);
  const arr = JSON.parse(list.stdout) as { id: string; status: string; online: boolean; lastSeen: null; certificates: { serial: string; notBefore: string; notAfter: string; status: string }[] }[];
  assert.equal(arr.length, 1);
  assert.deepEqual(Object.keys(arr[0]!).sort(), ["certificates", "id", "lastSeen", "online", "status"]);
  assert.deepEqual(Object.keys(arr[0]!.certificates[0]!).sort(), ["notAfter", "notBefore", "serial", "status"]);
  assert.equal(JSON.parse(run(["devices", "list", "--json", "--expiring", "7d", "--data", data]).stdout).length, 1);
  assert.equal(JSON.parse(run(["devices", "list", "--json", "--expiring", "1d", "--data", data]).stdout).length, 0);
  const rev = run(["devices", "revoke", "dev-9", "--reason", "keyCompromise", "--data", data]);
  assert.equal(rev.status, 0, rev.stderr);
  assert.equal(run(["devices", "revoke", "dev-9", "--data", data]).status, 0, "idempotent");
  const after = JSON.parse(run(["devices", "list", "--json", "--data", data]).stdout) as typeof arr;
  assert.equal(after[0]!.status, "revoked");
  assert.equal(after[0]!.certificates[0]!.status, "revoked");
  const unknown = run(["devices", "revoke", "ghost", "--data", data]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /not found/);
  const human = run(["devices", "list", "--data", data]);
  assert.match(human.stdout, /^ID\s+STATUS/);
  assert.match(human.stdout, /dev-9\s+revoked/);
});

test("gateway start logs ready with the bound ports and exits 0 on SIGTERM; a restart reuses the PKI", async () => {
  const data = tmpDir();
  const args = ["--data", data, "--host", "127.0.0.1", "--https-port", "0", "--mqtts-port", "0", "--metrics-port", "0"];
  const g1 = await spawnGateway(args);
  assert.ok(g1.ready.httpsPort > 0 && g1.ready.metricsPort > 0);
  const ca = fs.readFileSync(path.join(data, "pki/ca.pem"), "utf8");
  assert.equal(await g1.stop("SIGTERM"), 0);
  const g2 = await spawnGateway(args);
  assert.equal(fs.readFileSync(path.join(data, "pki/ca.pem"), "utf8"), ca);
  assert.equal(await g2.stop("SIGINT"), 0);
  // Nothing secret in the logs.
  const key = fs.readFileSync(path.join(data, "admin/admin.key"), "utf8").split("\n")[1]!;
  assert.ok(![...g1.stdout, ...g2.stdout].join("\n").includes(key));
});
