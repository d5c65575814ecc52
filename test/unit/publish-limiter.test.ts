import { test } from "node:test";
import assert from "node:assert/strict";
import { PublishLimiter } from "../../broker/limits.js";

test("within the burst every publish passes", () => {
  const l = new PublishLimiter(10, 3, 5000, 0);
  assert.deepEqual([l.check(0, true), l.check(0, false), l.check(0, true)], ["ok", "ok", "ok"]);
});

test("over the rate: QoS 0 is dropped, QoS 1/2 is held until its token has refilled, in order", () => {
  const l = new PublishLimiter(10, 1, 60_000, 0); // one token per 100 ms
  assert.equal(l.check(0, true), "ok");
  assert.equal(l.check(0, false), "drop");
  assert.equal(l.check(0, true), 100);
  assert.equal(l.check(0, true), 200);
  assert.equal(l.check(0, false), "drop", "QoS 0 never takes credit");
  // After the held ones were released the bucket is back to normal.
  assert.equal(l.check(300, true), "ok");
});

test("a client held or dropped continuously for abuseMs is judged abusive; a pause resets the streak", () => {
  const l = new PublishLimiter(1, 1, 900, 0); // one token per second
  l.check(0, false);
  for (let t = 0; t < 900; t += 50) assert.equal(l.check(t, false), "drop", `t=${t}`);
  assert.equal(l.check(900, false), "abuse");
  const m = new PublishLimiter(1, 1, 900, 0);
  m.check(0, false);
  for (let t = 0; t < 800; t += 100) assert.equal(m.check(t, false), "drop");
  assert.equal(m.check(2500, false), "ok", "refilled after a pause");
  assert.equal(m.check(2500, false), "drop", "a new streak starts");
  assert.equal(m.check(3000, false), "drop", "not abusive: the streak restarted after the pause");
});

test("publishes held into the future keep the streak alive until they are released", () => {
  const l = new PublishLimiter(10, 1, 2000, 0);
  l.check(0, true);
  let last: unknown;
  for (let i = 0; i < 30; i++) last = l.check(0, true); // one read chunk: held up to 3 s
  assert.equal(last, 3000);
  // The next chunk is read when they are released: still the same streak, now older than abuseMs.
  assert.equal(l.check(3000, true), "abuse");
});
