import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestGateway } from "../../testkit/gateway.js";
import { simInProcess } from "./sim-harness.js";
import { sq } from "../../testkit/registry.js";

test("sim revoke drill: revoked devices are disconnected within 1 s, never get back in, the others keep publishing", async () => {
  const gw = await startTestGateway({ "log-level": "info" });
  try {
    const run = await simInProcess(gw, { devices: "30", concurrency: "30", rate: "4", duration: "7", scenario: "revoke-drill", revoke: "5", prefix: "drill-" });
    const drill = run.report.revokeDrill as {
      performed: boolean; revoked: number; via: string; disconnectedWithin1s: number; gotBackIn: number; gaveUp: number;
      othersDisconnected: number; others: number; othersKeptPublishing: number; disconnectMs: { max: number; each: Record<string, number> };
    };
    assert.deepEqual(run.report.failures, {}, `${run.stderr}\n${JSON.stringify(drill)}`);
    assert.equal(run.exitCode, 0);
    assert.equal(drill.performed, true);
    assert.equal(drill.revoked, 5);
    assert.equal(drill.via, "admin-api");
    // README "MQTT": live connections of a revoked device close within 1 second.
    assert.equal(drill.disconnectedWithin1s, 5);
    assert.ok(drill.disconnectMs.max <= 1000, `max ${drill.disconnectMs.max} ms`);
    assert.equal(drill.gotBackIn, 0);
    assert.equal(drill.gaveUp, 5, "every revoked device was refused and stopped retrying");
    assert.equal(drill.othersDisconnected, 0);
    assert.equal(drill.others, 25);
    assert.equal(drill.othersKeptPublishing, 25);
    const revokedIds = Object.keys(drill.disconnectMs.each);
    for (const id of revokedIds) assert.equal(sq(gw.gw.deps.store).sync.devices.get(id)?.status, "revoked");
    for (const d of run.fleet.devices.filter((x) => !revokedIds.includes(x.id))) {
      assert.equal(d.connects, 1, `${d.id} was never disconnected`);
      assert.equal(d.failure, null);
      assert.equal(sq(gw.gw.deps.store).sync.devices.get(d.id)?.status, "active");
    }
    assert.equal(run.report.delivered, run.report.published);
  } finally {
    await gw.close();
  }
});

test("sim reconnect storm: everyone drops at once and comes back", async () => {
  const gw = await startTestGateway({ "log-level": "info" });
  try {
    // --duration bounds how long the storm may take to settle: generous, so a loaded machine does not fail it.
    const run = await simInProcess(gw, { devices: "60", concurrency: "60", rate: "2", duration: "15", scenario: "reconnect-storm", prefix: "storm-" });
    const storm = run.report.reconnectStorm as { performed: boolean; dropped: number; reconnected: number; resumed: number; allBackMs: number };
    assert.deepEqual(run.report.failures, {}, `${run.stderr}\n${JSON.stringify(storm)}`);
    assert.equal(storm.performed, true);
    assert.equal(storm.dropped, 60);
    assert.equal(storm.reconnected, 60);
    // Devices resume their TLS session when they come back, as firmware stacks do.
    assert.ok(storm.resumed > 0, `resumed ${storm.resumed}`);
    assert.ok(storm.allBackMs > 0);
    for (const d of run.fleet.devices) assert.ok(d.connects >= 2, d.id);
    assert.equal(run.report.connected, 60);
  } finally {
    await gw.close();
  }
});
