import { test } from "node:test";
import assert from "node:assert/strict";
import { Admission, sourceKey } from "../../front/admission.js";

test("sourceKey: IPv4 as is, IPv4-mapped IPv6 unwrapped, IPv6 by /64", () => {
  assert.equal(sourceKey("127.0.0.2"), "127.0.0.2");
  assert.equal(sourceKey("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(sourceKey("::FFFF:10.1.2.3"), "10.1.2.3");
  assert.equal(sourceKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(sourceKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  assert.equal(sourceKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(sourceKey("2001:db8::"), "2001:db8:0:0::/64");
  assert.equal(sourceKey("::1"), "0:0:0:0::/64");
  assert.equal(sourceKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(sourceKey(undefined), "?");
});

test("pending connections are capped per source and in total; release frees the place", () => {
  const a = new Admission({ maxPending: 5, maxPendingPerSource: 3 }, 0);
  for (let i = 0; i < 3; i++) assert.equal(a.admit("10.0.0.1", 0), undefined);
  assert.equal(a.admit("10.0.0.1", 0), "pending_source");
  assert.equal(a.pendingFrom("10.0.0.1"), 3, "a refused connection takes no place");
  assert.equal(a.admit("10.0.0.2", 0), undefined);
  assert.equal(a.admit("10.0.0.3", 0), undefined);
  assert.equal(a.admit("10.0.0.4", 0), "pending_global");
  assert.equal(a.pending, 5);
  a.release("10.0.0.1");
  assert.equal(a.admit("10.0.0.4", 0), undefined);
  assert.equal(a.admit("10.0.0.1", 0), "pending_global");
  a.release("10.0.0.9"); // unknown source: no effect
  assert.equal(a.pending, 5);
  for (const s of ["10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]) a.release(s);
  assert.equal(a.pending, 0);
  assert.equal(a.pendingFrom("10.0.0.1"), 0);
});

test("connect rate: per source, and one source over its rate spends none of the global ceiling", () => {
  const a = new Admission({ maxPending: 1e6, maxPendingPerSource: 1e6, rate: { perSource: 5, global: 20 } }, 0);
  const verdicts = Array.from({ length: 1000 }, () => a.admit("10.0.0.1", 0));
  assert.equal(verdicts.filter((v) => v === undefined).length, 5);
  assert.ok(verdicts.slice(5).every((v) => v === "rate_source"));
  // Other sources still have the remaining 15 of the global budget.
  let ok = 0;
  for (let s = 2; s < 10; s++) for (let i = 0; i < 5; i++) if (a.admit(`10.0.0.${s}`, 0) === undefined) ok++;
  assert.equal(ok, 15);
  assert.equal(a.admit("10.0.0.50", 0), "rate_global");
  // One second later the buckets have refilled.
  assert.equal(a.admit("10.0.0.1", 1000), undefined);
  assert.equal(a.admit("10.0.0.50", 1000), undefined);
});

test("rate buckets of idle sources are forgotten; busy ones keep their state", () => {
  const a = new Admission({ maxPending: 1e6, maxPendingPerSource: 1e6, rate: { perSource: 1, global: 1e6 } }, 0);
  for (let i = 0; i < 30_000; i++) a.admit(`s${i}`, 0);
  // All 30k buckets are empty at t=0; a busy source stays limited after many new ones.
  assert.equal(a.admit("s1", 0), "rate_source");
  for (let i = 0; i < 30_000; i++) a.admit(`t${i}`, 10_000); // s* have refilled by now: pruned
  assert.equal(a.admit("t1", 10_000), "rate_source");
  assert.equal(a.admit("s1", 10_000), undefined);
});
