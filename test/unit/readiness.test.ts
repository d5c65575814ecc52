import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { Lifecycle, evaluateReadiness, type ReadinessCheck } from "../../runtime/readiness.js";
import { runDrain } from "../../runtime/drain.js";
import { createLogger } from "../../log.js";
import { openSqliteStore } from "../../db/sqlite/store.js";
import { tmpDir } from "../../testkit/gateway.js";
import { LogSink } from "../../testkit/log-sink.js";

const ok: ReadinessCheck = { name: "listeners", check: async () => {} };

test("ready only while serving and every named check passes; each check reported by name", async () => {
  const life = new Lifecycle();
  assert.deepEqual(await evaluateReadiness(life, [ok, { name: "registry", check: async () => {} }]), { ready: true, state: "serving", checks: { listeners: "ok", registry: "ok" } });
  const failing = await evaluateReadiness(life, [ok, { name: "registry", check: async () => { throw new Error("closed"); } }]);
  assert.deepEqual(failing, { ready: false, state: "serving", checks: { listeners: "ok", registry: "failed" } });
  // A check that throws before returning a promise is a failure too, not an exception.
  const sync = await evaluateReadiness(life, [{ name: "redis", check: () => { throw new Error("boom"); } }]);
  assert.deepEqual(sync.checks, { redis: "failed" });
  assert.equal(sync.ready, false);
});

test("a check that does not answer within the timeout makes the node not ready", async () => {
  const r = await evaluateReadiness(new Lifecycle(), [ok, { name: "registry", check: () => new Promise<void>(() => {}) }], 50);
  assert.deepEqual(r, { ready: false, state: "serving", checks: { listeners: "ok", registry: "timeout" } });
});

test("draining is not ready, whatever the checks say, and never goes back", async () => {
  const life = new Lifecycle();
  life.drain();
  let ran = false;
  const r = await evaluateReadiness(life, [{ name: "registry", check: async () => void (ran = true) }]);
  assert.deepEqual(r, { ready: false, state: "draining", checks: {} });
  assert.equal(ran, false);
  life.drain();
  assert.equal(life.state, "draining");
  // Draining that starts while checks run wins over their success.
  const life2 = new Lifecycle();
  const r2 = await evaluateReadiness(life2, [{ name: "registry", check: async () => life2.drain() }]);
  assert.equal(r2.ready, false);
  assert.equal(r2.state, "draining");
});

test("drain steps run strictly in order, each awaited; a failing step is logged and the rest still run", async () => {
  const logs = new LogSink();
  const log = createLogger({ level: "debug", destination: logs });
  const order: string[] = [];
  const slow = (name: string) => async () => { await new Promise((r) => setTimeout(r, 20)); order.push(name); };
  await runDrain([
    { name: "readiness", run: () => void order.push("readiness") },
    { name: "stop-accepting", run: slow("stop-accepting") },
    { name: "mqtt-sessions", run: async () => { order.push("mqtt-sessions"); throw new Error("stuck"); } },
    { name: "registry", run: slow("registry") },
  ], log);
  assert.deepEqual(order, ["readiness", "stop-accepting", "mqtt-sessions", "registry"]);
  const failed = logs.lines().filter((l) => l.msg === "error while closing");
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.step, "mqtt-sessions");
});

test("SQLite ping answers while the store is open and rejects once it is closed", async () => {
  const store = openSqliteStore(path.join(tmpDir(), "gateway.db"));
  await store.ping();
  await store.close();
  await assert.rejects(store.ping());
});
