import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ISSUANCE_LIMITS, renewalRate, toSupersede, type IssuanceLimits } from "../../enroll/issuance-limits.js";

const L: IssuanceLimits = { perWindow: 3, windowMs: 60_000, maxValid: 3 };
const now = 1_000_000;

const rates: [string, number[], ReturnType<typeof renewalRate>][] = [
  ["none issued", [], { ok: true }],
  ["two in the window", [now - 50_000, now - 10_000], { ok: true }],
  ["three in the window: refused until the oldest leaves", [now - 50_000, now - 20_000, now - 1], { ok: false, retryAfterSeconds: 10 }],
  ["four in the window: until the second oldest leaves", [now - 59_000, now - 40_000, now - 20_000, now - 1], { ok: false, retryAfterSeconds: 20 }],
  ["old issuances outside the window do not count", [now - 120_000, now - 60_000, now - 20_000, now - 1], { ok: true }],
  ["leaving in under a second still says 1 s", [now - 59_999, now - 2, now - 1], { ok: false, retryAfterSeconds: 1 }],
  ["a burst in the same millisecond", [now, now, now], { ok: false, retryAfterSeconds: 60 }],
];
for (const [name, issued, want] of rates) {
  test(`renewalRate: ${name}`, () => assert.deepEqual(renewalRate(issued, now, L), want));
}

const caps: [string, string[], number, string | undefined, string[]][] = [
  ["no valid certificate", [], 3, undefined, []],
  ["one valid, cap 3", ["a"], 3, "a", []],
  ["two valid, cap 3: the new one makes three", ["a", "b"], 3, "b", []],
  ["three valid, cap 3: the one expiring first goes", ["a", "b", "c"], 3, "c", ["a"]],
  ["three valid, the oldest presented: the next oldest goes instead", ["a", "b", "c"], 3, "a", ["b"]],
  ["three valid, no certificate presented (manufacturer certificate, token)", ["a", "b", "c"], 3, undefined, ["a"]],
  ["five valid (from before the cap), cap 3: three go", ["a", "b", "c", "d", "e"], 3, "e", ["a", "b", "c"]],
  ["five valid, the second presented", ["a", "b", "c", "d", "e"], 3, "b", ["a", "c", "d"]],
  ["cap 1: every predecessor but the presented one goes", ["a", "b"], 1, "b", ["a"]],
  ["cap 1, nothing presented: every predecessor goes", ["a", "b"], 1, undefined, ["a", "b"]],
];
for (const [name, valid, maxValid, presented, want] of caps) {
  test(`toSupersede: ${name}`, () => assert.deepEqual(toSupersede(valid, { maxValid }, presented), want));
}

test("the defaults: 10 per hour, 3 valid certificates", () => {
  assert.deepEqual({ ...DEFAULT_ISSUANCE_LIMITS }, { perWindow: 10, windowMs: 3_600_000, maxValid: 3 });
});
