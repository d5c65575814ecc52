import { test } from "node:test";
import assert from "node:assert/strict";
import { makePayload, parsePayload, telemetryTopicId } from "../../device-sim/telemetry.js";

test("telemetry payload: padded to exactly --payload-bytes, valid JSON, seq and timestamp", () => {
  for (const bytes of [64, 100, 1000, 70_000]) {
    const p = makePayload("sim-000001", 42, 1712345678901.1234, bytes);
    assert.equal(Buffer.byteLength(p), bytes, `bytes ${bytes}`);
    const j = JSON.parse(p) as Record<string, unknown>;
    assert.equal(j.id, "sim-000001");
    assert.equal(j.seq, 42);
    assert.equal(j.ts, 1712345678901.123);
  }
});

test("telemetry payload: smaller than the header means just the header", () => {
  const p = makePayload("d1", 1, 5, 0);
  assert.equal(p, '{"id":"d1","seq":1,"ts":5.000}');
  // Too small to hold the padding field at all: still the bare header.
  assert.equal(makePayload("d1", 1, 5, p.length + 3), p);
  assert.equal(Buffer.byteLength(makePayload("d1", 1, 5, p.length + 7)), p.length + 7);
});

test("telemetry parse: round trip, and anything else is not ours", () => {
  assert.deepEqual(parsePayload(Buffer.from(makePayload("a", 3, 10.5, 80))), { id: "a", seq: 3, ts: 10.5 });
  for (const bad of ["", "nope", "null", "[]", '{"id":"a","seq":0,"ts":1}', '{"id":"a","seq":1.5,"ts":1}', '{"id":1,"seq":1,"ts":1}', '{"id":"a","seq":1}']) {
    assert.equal(parsePayload(bad), undefined, bad);
  }
});

test("telemetry topic: the device id in devices/<id>/telemetry", () => {
  assert.equal(telemetryTopicId("devices/sim-1/telemetry"), "sim-1");
  for (const t of ["devices//telemetry", "devices/a/b/telemetry", "x/a/telemetry", "devices/a/commands"]) assert.equal(telemetryTopicId(t), undefined, t);
});
