import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, retryDelay, DEFAULT_BACKOFF } from "../../device-sim/backoff.js";

const p = { baseMs: 100, maxMs: 1000, factor: 2 };

test("backoff: the cap doubles per attempt and the delay lies in [cap/2, cap]", () => {
  const caps = [100, 200, 400, 800, 1000, 1000];
  caps.forEach((cap, i) => {
    assert.equal(backoffDelay(i + 1, p, () => 0), cap / 2, `attempt ${i + 1} floor`);
    assert.equal(backoffDelay(i + 1, p, () => 0.999999), cap, `attempt ${i + 1} top`);
  });
});

test("backoff: jitter spreads a herd over the window", () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const delays = Array.from({ length: 1000 }, () => backoffDelay(3, p, rnd));
  assert.ok(Math.min(...delays) >= 200 && Math.max(...delays) <= 400);
  assert.ok(new Set(delays).size > 100, "delays are not in lockstep");
});

test("backoff: silly attempt numbers stay finite and capped", () => {
  assert.equal(backoffDelay(0, p, () => 0), 50);
  assert.equal(backoffDelay(-5, p, () => 0), 50);
  assert.equal(backoffDelay(10_000, p, () => 0.5), 750);
  assert.equal(backoffDelay(10_000, DEFAULT_BACKOFF, () => 1), DEFAULT_BACKOFF.maxMs);
});

test("retryDelay: a Retry-After longer than our backoff wins, a shorter one does not", () => {
  assert.equal(retryDelay(1, p, () => 0, 3), 3000);
  assert.equal(retryDelay(4, p, () => 0.999999, 0), 800);
  assert.equal(retryDelay(1, p, () => 0, undefined), 50);
  // A hostile Retry-After cannot park a device for a day.
  assert.equal(retryDelay(1, p, () => 0, 86_400), 4000);
});
