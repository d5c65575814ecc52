import { test } from "node:test";
import assert from "node:assert/strict";
import { CycleCoalescer } from "../../broker/audit-coalesce.js";

const C = "mqtt.connected" as const;
const D = "mqtt.disconnected" as const;

test("a connect loop writes one connect/disconnect pair per window, then the last state with the folded count", () => {
  const c = new CycleCoalescer(60_000);
  const rows = [];
  let t = 0;
  for (let i = 0; i < 100; i++) {
    rows.push(...c.event({ type: C, deviceId: "d1", at: t++, serial: "AA" }));
    rows.push(...c.event({ type: D, deviceId: "d1", at: t++ }));
  }
  assert.deepEqual(rows.map((r) => r.type), [C, D]);
  assert.equal(rows[0]!.serial, "AA");
  assert.deepEqual(c.due(59_999), [], "the window is still open");
  const closing = c.due(60_000);
  assert.equal(closing.length, 1);
  assert.equal(closing[0]!.type, D, "the trail ends in the device's real state");
  assert.equal(closing[0]!.at, 199);
  assert.deepEqual(closing[0]!.detail, { suppressedCycles: 99, since: new Date(0).toISOString() });
  assert.equal(c.tracked, 0);
  // The next window starts fresh.
  assert.deepEqual(c.event({ type: C, deviceId: "d1", at: 70_000 }).map((r) => r.type), [C]);
});

test("an event after the window closes carries the previous window's summary first, even before a flush", () => {
  const c = new CycleCoalescer(1000);
  c.event({ type: C, deviceId: "d", at: 0 });
  c.event({ type: D, deviceId: "d", at: 1 });
  c.event({ type: C, deviceId: "d", at: 2, serial: "BB" });
  const rows = c.event({ type: D, deviceId: "d", at: 5000 });
  assert.deepEqual(rows.map((r) => [r.type, r.at, r.detail?.suppressedCycles]), [[C, 2, 1], [D, 5000, undefined]]);
  assert.equal(rows[0]!.serial, "BB");
});

test("a device that connects once and stays writes one row and leaves nothing tracked after its window", () => {
  const c = new CycleCoalescer(1000);
  assert.equal(c.event({ type: C, deviceId: "x", at: 0 }).length, 1);
  assert.deepEqual(c.due(5000), []);
  assert.equal(c.tracked, 0);
});

test("identities are coalesced separately; due(all) closes every window (shutdown)", () => {
  const c = new CycleCoalescer(60_000);
  for (const id of ["a", "b"]) {
    for (let i = 0; i < 3; i++) {
      c.event({ type: C, deviceId: id, at: i });
      c.event({ type: D, deviceId: id, at: i });
    }
  }
  const rows = c.due(10, true);
  assert.deepEqual(rows.map((r) => [r.deviceId, r.type, r.detail?.suppressedCycles]), [["a", D, 2], ["b", D, 2]]);
});
