import { test } from "node:test";
import assert from "node:assert/strict";
import { build } from "hdr-histogram-js";
import { type DeviceEnd, buildReport, endStateFailures, formatProgress, perSecond, reportExitCode } from "../../device-sim/report.js";

test("report: exactly the device-sim/README.md fields, in order", () => {
  const h = build();
  for (const us of [1000, 2000, 3000, 4000, 100_000]) h.recordValue(us);
  const r = buildReport({
    devices: 5, enrolled: 5, connected: 5, published: 5, delivered: 5, failures: new Map([["b", 1], ["a", 2], ["zero", 0]]),
    enrollSpanMs: 2500, connectSpanMs: 1000, latency: h,
  });
  assert.deepEqual(Object.keys(r), ["devices", "enrolled", "connected", "published", "delivered", "failures", "enrollPerSec", "connectPerSec", "latencyMs"]);
  assert.deepEqual(Object.keys(r.latencyMs), ["p50", "p95", "p99", "max"]);
  assert.deepEqual(r.failures, { a: 2, b: 1 });
  assert.deepEqual(Object.keys(r.failures), ["a", "b"]);
  assert.equal(r.enrollPerSec, 2);
  assert.equal(r.connectPerSec, 5);
  assert.equal(r.latencyMs.p50, 3);
  assert.ok(r.latencyMs.max! >= 99.9 && r.latencyMs.max! <= 100.1);
  assert.equal(reportExitCode(r), 1);
  h.destroy();
});

test("report: nothing measured is null, not a made-up zero", () => {
  const r = buildReport({ devices: 3, enrolled: 0, connected: 3, published: 9, delivered: null, failures: new Map(), enrollSpanMs: NaN, connectSpanMs: 500, latency: null });
  assert.equal(r.delivered, null);
  assert.deepEqual(r.latencyMs, { p50: null, p95: null, p99: null, max: null });
  assert.equal(r.enrollPerSec, 0);
  assert.equal(reportExitCode(r), 0);
});

test("perSecond: guards a zero span and rounds to two decimals", () => {
  assert.equal(perSecond(0, 1000), 0);
  assert.equal(perSecond(1, 0), 1);
  assert.equal(perSecond(3, 7000), 0.43);
  assert.equal(perSecond(10, NaN), 0);
});

test("progress: one line with the figures an operator watches", () => {
  const line = formatProgress({ elapsedMs: 12_300, devices: 1000, enrolled: 812, online: 790, connected: 800, msgsPerSec: 780.4, delivered: 9650, p99Ms: 4.21, failures: 0, retries: 3 });
  assert.equal(line, "[sim   12s]  enrolled 812/1000  connected 790/1000  msgs/s 780  delivered 9650  p99 4.2ms  failures 0  retries 3");
  assert.ok(!line.includes("\n"));
  assert.match(formatProgress({ elapsedMs: 0, devices: 1, enrolled: 0, online: 0, connected: 0, msgsPerSec: 0, delivered: null, p99Ms: null, failures: 2, retries: 0 }), /delivered - {2}p99 - {2}failures 2$/);
});

test("end-state failures: never started, never connected (with the last error), lost at QoS 1", () => {
  const d = (o: Partial<DeviceEnd>): DeviceEnd => ({ state: "stopped", connects: 1, failure: null, lastError: "", published: 5, delivered: 5, ...o });
  const devices = [
    d({}),
    d({ state: "idle", connects: 0, published: 0, delivered: 0 }),
    d({ connects: 0, lastError: "connect:econnrefused", published: 0, delivered: 0 }),
    d({ connects: 0, published: 0, delivered: 0 }),
    d({ state: "failed", connects: 0, failure: "enroll:401", published: 0, delivered: 0 }),
    d({ published: 10, delivered: 7 }),
    // Delivered but not acknowledged (connection lost before PUBACK) does not offset another device's loss.
    d({ published: 3, delivered: 4 }),
  ];
  assert.deepEqual([...endStateFailures(devices, true)], [["notStarted", 1], ["notConnected:connect:econnrefused", 1], ["notConnected", 1], ["lost", 3]]);
  assert.equal(endStateFailures(devices, false).has("lost"), false, "QoS 0 or no subscriber: loss is not a failure");
});
