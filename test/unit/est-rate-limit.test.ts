import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FailureLimiter } from "../../enroll/est/rate-limit.js";

describe("failed-authentication limiter", () => {
  const make = (limit = 3, maxEntries?: number) => {
    let now = 1_000_000;
    const l = new FailureLimiter({ limit, clock: () => now, ...(maxEntries ? { maxEntries } : {}) });
    return { l, advance: (ms: number) => (now += ms) };
  };

  test("limit failures are allowed; then blocked until the window that began at the first failure ends", () => {
    const { l, advance } = make(3);
    for (let i = 0; i < 3; i++) {
      assert.equal(l.blockedFor("a"), undefined);
      l.fail("a");
      advance(10_000);
    }
    // First failure at t0; now t0 + 30 s.
    assert.equal(l.blockedFor("a"), 30);
    advance(29_500);
    assert.equal(l.blockedFor("a"), 1);
    advance(500);
    assert.equal(l.blockedFor("a"), undefined);
    l.fail("a");
    assert.equal(l.blockedFor("a"), undefined, "a new window starts from zero");
  });

  test("addresses are independent", () => {
    const { l } = make(1);
    l.fail("a");
    assert.equal(l.blockedFor("a"), 60);
    assert.equal(l.blockedFor("b"), undefined);
  });

  test("memory is bounded: expired windows are pruned, and the oldest go when full", () => {
    const { l, advance } = make(5, 100);
    for (let i = 0; i < 50; i++) l.fail(`x${i}`);
    advance(61_000);
    l.fail("fresh");
    assert.equal(l.size, 1, "expired windows pruned on insert");
    for (let i = 0; i < 500; i++) l.fail(`y${i}`);
    assert.ok(l.size <= 100, `size ${l.size}`);
    for (let i = 0; i < 5; i++) l.fail("y499");
    assert.ok(l.blockedFor("y499") !== undefined, "the newest windows are kept");
  });
});
