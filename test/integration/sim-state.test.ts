import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { StateDir, MemoryCredentials } from "../../device-sim/state.js";
import { foreignCa } from "../../testkit/certs.js";
import { tmpDir } from "../../testkit/gateway.js";

const mode = (f: string) => fs.statSync(f).mode & 0o777;

test("state dir: keys 0600 in 0700 directories, certificate and obtained time round trip", async () => {
  const root = path.join(tmpDir("fg-sim-state-"), "st");
  const st = StateDir.open(root);
  const ca = foreignCa();
  const c = ca.issue("dev-1");
  assert.deepEqual(await st.load("dev-1"), { kind: "none" });
  const obtained = Date.parse("2024-05-01T10:00:00Z");
  const saved = await st.save("dev-1", c.keyPem, c.certPem, obtained);
  assert.equal(mode(root), 0o700);
  assert.equal(mode(path.join(root, "devices")), 0o700);
  assert.equal(mode(st.keyFile("dev-1")), 0o600);
  assert.equal(mode(st.certFile("dev-1")), 0o644);
  const loaded = await st.load("dev-1");
  assert.equal(loaded.kind, "ok");
  if (loaded.kind !== "ok") return;
  assert.equal(loaded.cred.certPem, c.certPem);
  assert.equal(loaded.cred.keyPem, c.keyPem);
  assert.equal(loaded.cred.obtainedAt, obtained);
  assert.equal(loaded.cred.notAfter, saved.notAfter);
  assert.ok(loaded.cred.notAfter > loaded.cred.notBefore);
  // No temp files left behind.
  assert.deepEqual(fs.readdirSync(path.join(root, "devices")).sort(), ["dev-1.key", "dev-1.pem"]);
});

test("state dir: a key that does not match, or a certificate for someone else, is reported corrupt", async () => {
  const st = StateDir.open(tmpDir("fg-sim-state-"));
  const ca = foreignCa();
  const a = ca.issue("dev-a");
  const b = ca.issue("dev-b");
  await st.save("dev-a", a.keyPem, a.certPem, Date.now());
  fs.writeFileSync(st.keyFile("dev-a"), b.keyPem);
  const r = await st.load("dev-a");
  assert.equal(r.kind, "corrupt");
  assert.match(r.kind === "corrupt" ? r.why : "", /does not match/);
  fs.copyFileSync(st.certFile("dev-a"), st.certFile("dev-b"));
  fs.writeFileSync(st.keyFile("dev-b"), a.keyPem);
  const r2 = await st.load("dev-b");
  assert.match(r2.kind === "corrupt" ? r2.why : "", /for "dev-a"/);
  fs.writeFileSync(st.certFile("dev-a"), "garbage");
  assert.equal((await st.load("dev-a")).kind, "corrupt");
  await assert.rejects(st.save("dev-x", a.keyPem, a.certPem, Date.now()), /dev-a/);
});

test("state dir: device ids never become paths outside the directory", async () => {
  const st = StateDir.open(tmpDir("fg-sim-state-"));
  for (const id of ["../evil", "a/b", "", ".hidden"]) {
    assert.throws(() => st.keyFile(id), /invalid device id/, id);
    await assert.rejects(st.load(id), /invalid device id/);
  }
});

test("memory credentials: same contract without files", async () => {
  const m = new MemoryCredentials();
  const c = foreignCa().issue("dev-m");
  assert.deepEqual(await m.load("dev-m"), { kind: "none" });
  await m.save("dev-m", c.keyPem, c.certPem, 5);
  const r = await m.load("dev-m");
  assert.equal(r.kind === "ok" && r.cred.obtainedAt, 5);
});
