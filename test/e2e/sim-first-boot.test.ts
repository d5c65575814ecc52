import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startTestGateway, tmpDir } from "../../testkit/gateway.js";
import { REPORT_KEYS, simCli, simInProcess } from "./sim-harness.js";
import { freePort as closedPort } from "../../testkit/ports.js";
import { foreignCa } from "../../testkit/certs.js";
import { EstClient } from "../../device-sim/est-client.js";
import { runSim } from "../../device-sim/main.js";
import { simOptionsFrom } from "../../device-sim/options.js";
import { initDataDir } from "../../runtime/datadir.js";
import { resolveConfig } from "../../config.js";
import { silentLogger } from "../../log.js";
import { sq } from "../../testkit/registry.js";

const DEVICES = 200;

test("sim: 200 devices first boot, all publish at QoS 1 with zero loss; a second run with the same --state enrolls nobody and connects everyone", async () => {
  const gw = await startTestGateway({ "log-level": "info" });
  const state = path.join(tmpDir("fg-sim-e2e-"), "state");
  try {
    // First boot, in process through the fleet API.
    const first = await simInProcess(gw, { devices: String(DEVICES), concurrency: "50", rate: "2", duration: "3", qos: "1", state });
    const r = first.report;
    assert.deepEqual(Object.keys(r), REPORT_KEYS);
    assert.deepEqual(r.failures, {}, first.stderr);
    assert.equal(first.exitCode, 0);
    assert.equal(r.devices, DEVICES);
    assert.equal(r.enrolled, DEVICES);
    assert.equal(r.connected, DEVICES);
    assert.ok(r.published >= DEVICES * 3, `published ${r.published}`);
    assert.equal(r.delivered, r.published, "zero loss at QoS 1");
    assert.ok(r.enrollPerSec > 0 && r.connectPerSec > 0);
    assert.ok(r.latencyMs.p50! > 0 && r.latencyMs.p50! <= r.latencyMs.p95! && r.latencyMs.p95! <= r.latencyMs.p99! && r.latencyMs.p99! <= r.latencyMs.max!);
    // Progress lines went to the error stream, about once a second.
    assert.match(first.stderr, /\[sim +\d+s\] {2}enrolled \d+\/200 {2}connected \d+\/200 {2}msgs\/s \d+ {2}delivered \d+ {2}p99 /);
    // Every device did enroll: one certificate each in the gateway's registry; the keys on disk are private.
    for (const id of ["sim-000001", "sim-000100", "sim-000200"]) {
      assert.equal(sq(gw.gw.deps.store).sync.certificates.forDevice(id).length, 1, id);
      assert.equal(fs.statSync(path.join(state, "devices", `${id}.key`)).mode & 0o777, 0o600);
    }
    assert.equal(fs.readdirSync(path.join(state, "devices")).filter((f) => f.endsWith(".pem")).length, DEVICES);
    const certsBefore = sq(gw.gw.deps.store).sync.certificates.forDevice("sim-000042")[0]!.serial;

    // Second run with the same --state, through the real CLI in a child process.
    const second = await simCli(["--devices", String(DEVICES), "--concurrency", "50", "--duration", "3", "--rate", "1",
      "--data", gw.dataDir, "--state", state, "--est", gw.estUrl, "--mqtt", gw.mqttUrl]);
    assert.equal(second.code, 0, second.stderr);
    const r2 = second.report!;
    assert.deepEqual(Object.keys(r2), REPORT_KEYS);
    assert.equal(r2.enrolled, 0, "nobody enrolls again");
    assert.equal(r2.connected, DEVICES, "everyone connects");
    assert.deepEqual(r2.failures, {});
    assert.equal(r2.delivered, r2.published);
    assert.ok(r2.published >= DEVICES);
    assert.equal(sq(gw.gw.deps.store).sync.certificates.forDevice("sim-000042").length, 1);
    assert.equal(sq(gw.gw.deps.store).sync.certificates.forDevice("sim-000042")[0]!.serial, certsBefore);

    // Ctrl-C ends a long run early and still prints the report.
    const interrupted = await simCli(["--devices", "20", "--duration", "10m", "--data", gw.dataDir, "--state", state, "--est", gw.estUrl, "--mqtt", gw.mqttUrl],
      60_000, (err) => / connected 20\/20 /.test(err));
    assert.equal(interrupted.code, 0, interrupted.stderr);
    assert.equal(interrupted.report!.connected, 20);
    assert.deepEqual(interrupted.report!.failures, {});
  } finally {
    await gw.close();
  }
});

test("sim CLI: usage errors exit 2 with the reason on stderr; a gateway that is not there fails with exit 1", async () => {
  const bad = await simCli(["--devices", "0", "--data", "/nonexistent"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--devices must be between 1 and/);
  assert.equal(bad.stdout, "");
  const unknown = await simCli(["--frobnicate"]);
  assert.equal(unknown.code, 2);
  const noData = await simCli(["--data", tmpDir("fg-sim-empty-")]);
  assert.equal(noData.code, 1);
  assert.match(noData.stderr, /not a gateway data directory/);
  // Nothing listens there: every enrollment is refused at TCP level and retried until the boot phase times out.
  const port = await closedPort();
  const dir = tmpDir("fg-sim-down-");
  fs.writeFileSync(path.join(dir, "ca.pem"), foreignCa().certPem);
  fs.writeFileSync(path.join(dir, "tokens.csv"), "down-000001,token-one\ndown-000002,token-two\n");
  const down = await simCli(["--ca", path.join(dir, "ca.pem"), "--tokens", path.join(dir, "tokens.csv"), "--est", `https://127.0.0.1:${port}`, "--mqtt", `mqtts://127.0.0.1:${port}`,
    "--start-timeout", "2", "--duration", "1"]);
  assert.equal(down.code, 1, down.stderr);
  assert.equal(down.report!.devices, 2);
  assert.equal(down.report!.connected, 0);
  assert.deepEqual(down.report!.failures, { "notConnected:enroll:econnrefused": 2 });
  assert.ok(!down.stderr.includes("token-one"), "tokens never reach the logs");
  const help = await simCli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--renew-at/);
});

test("sim: with no gateway listening, the run fails fast with a clear error and leaves nothing running", async () => {
  const dataDir = tmpDir("fg-sim-nogw-");
  await (await initDataDir(resolveConfig({ data: dataDir }, {}), silentLogger(), Date.now)).store.close();
  const port = await closedPort();
  const opts = simOptionsFrom({ data: dataDir, devices: "2", est: `https://127.0.0.1:${port}`, mqtt: `mqtts://127.0.0.1:${port}` });
  const out: string[] = [];
  await assert.rejects(runSim(opts, { err: () => {}, out: (s) => out.push(s) }, { makeEst: (o) => new EstClient(o) }), /service subscriber could not connect: .*ECONNREFUSED/);
  assert.deepEqual(out, [], "no report for a run that never started");
  const viaCli = await simCli(["--data", dataDir, "--devices", "2", "--est", `https://127.0.0.1:${port}`, "--mqtt", `mqtts://127.0.0.1:${port}`]);
  assert.equal(viaCli.code, 1);
  assert.match(viaCli.stderr, /gateway sim: service subscriber could not connect/);
});
