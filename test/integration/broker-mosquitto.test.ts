/** The same contract, driven by the Debian mosquitto clients (a second, independent MQTT/TLS stack). */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { foreignCa, issueDirect } from "../../testkit/certs.js";
import { pemFiles, run, type RunResult } from "./broker-helpers.js";

let g: TestGateway;
let dir: string;
let base: (p: { cert: string; key: string }) => string[];
let d1: { cert: string; key: string }, svc: { cert: string; key: string };

before(async () => {
  g = await startTestGateway();
  dir = fs.mkdtempSync(path.join(g.dataDir, "mosq-"));
  fs.writeFileSync(path.join(dir, "ca.pem"), g.caPem);
  d1 = pemFiles(dir, "d1", issueDirect(g.gw.deps, "d1"));
  issueDirect(g.gw.deps, "d2");
  svc = pemFiles(dir, "svc", issueDirect(g.gw.deps, "svc", { role: "service" }));
  base = (p) => ["-h", "127.0.0.1", "-p", String(g.gw.mqttsPort), "--cafile", path.join(dir, "ca.pem"), "--cert", p.cert, "--key", p.key];
});
after(async () => {
  await g.close();
});

/** Starts mosquitto_sub for one message (-C 1), and keeps publishing with mosquitto_pub until it arrives (the subscription has no ready signal). */
async function deliver(sub: string[], pub: string[]): Promise<RunResult> {
  const child = spawn("mosquitto_sub", [...sub, "-C", "1", "-W", "20", "-v"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("close", r));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  for (let i = 0; i < 40 && code === undefined; i++) {
    const p = await run("mosquitto_pub", pub);
    assert.equal(p.code, 0, p.stderr);
    await new Promise((r) => setTimeout(r, 150));
  }
  return { code: await exited, stdout, stderr };
}

test("mosquitto: a device publishes telemetry and a service receives it", async () => {
  const r = await deliver([...base(svc), "-i", "svc", "-t", "devices/+/telemetry", "-q", "1"], [...base(d1), "-i", "d1", "-t", "devices/d1/telemetry", "-m", "21.5", "-q", "1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "devices/d1/telemetry 21.5");
});

test("mosquitto: a service command reaches the device", async () => {
  const r = await deliver([...base(d1), "-i", "d1", "-t", "devices/d1/commands/#", "-q", "1"], [...base(svc), "-i", "svc-cmd", "-t", "devices/d1/commands/reboot", "-m", "now", "-q", "1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "devices/d1/commands/reboot now");
});

test("mosquitto: forbidden filters are refused", async () => {
  for (const [who, id, filter] of [[d1, "d1", "#"], [d1, "d1", "devices/+/commands/#"], [d1, "d1", "devices/d2/commands/#"], [d1, "d1", "$SYS/#"], [svc, "svc", "#"], [svc, "svc", "$SYS/#"]] as const) {
    const r = await run("mosquitto_sub", [...base(who), "-i", id, "-t", filter, "-C", "1", "-W", "5"]);
    assert.match(r.stderr, /All subscription requests were denied/, `${id} ${filter}`);
  }
});

test("mosquitto: clientId spoofing is refused (not authorised)", async () => {
  const r = await run("mosquitto_pub", [...base(d1), "-i", "d2", "-t", "devices/d1/x", "-m", "x"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not authori[sz]ed/i);
});

test("mosquitto: a foreign CA's certificate with a device CN cannot connect", async () => {
  const f = pemFiles(dir, "foreign", foreignCa().issue("d1"));
  const r = await run("mosquitto_pub", [...base(f), "-i", "d1", "-t", "devices/d1/x", "-m", "x", "-q", "1"]);
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stderr, /^$/);
});
