import { test } from "node:test";
import assert from "node:assert/strict";
import { StandingCache } from "../../broker/standing-cache.js";
import type { CertStanding } from "../../db/types.js";

/** A registry as a plain map; `reads` counts how often the cache went to it. */
function registry() {
  const rows = new Map<string, CertStanding>();
  let reads = 0;
  const read = async (serial: string) => (reads++, rows.get(serial));
  const dev = (id: string, status: CertStanding["status"] = "valid", deviceStatus: CertStanding["deviceStatus"] = "active"): CertStanding => ({ role: "device", name: id, deviceId: id, status, deviceStatus, fingerprint: `fp-${id}` });
  return { rows, read, dev, reads: () => reads };
}

test("an admitted standing is read once, then served from memory", async () => {
  const r = registry();
  r.rows.set("a1", r.dev("d1"));
  const c = new StandingCache(r.read);
  assert.equal((await c.standing("a1"))?.status, "valid");
  assert.equal((await c.standing("a1"))?.status, "valid");
  assert.equal(r.reads(), 1);
});

test("refusals and unknown serials are never cached: the registry is asked every time", async () => {
  const r = registry();
  r.rows.set("rev", r.dev("d1", "revoked"));
  r.rows.set("devrev", r.dev("d2", "valid", "revoked"));
  r.rows.set("nodev", r.dev("d3", "valid", null));
  const c = new StandingCache(r.read);
  for (const s of ["rev", "devrev", "nodev", "missing"]) await c.standing(s);
  for (const s of ["rev", "devrev", "nodev", "missing"]) await c.standing(s);
  assert.equal(r.reads(), 8);
  assert.equal(c.size, 0);
  // A certificate issued later (another process) is found at once.
  r.rows.set("missing", r.dev("d4"));
  assert.equal((await c.standing("missing"))?.status, "valid");
});

test("a revocation by serial drops that serial only", async () => {
  const r = registry();
  r.rows.set("a1", r.dev("d1"));
  r.rows.set("a2", r.dev("d1"));
  const c = new StandingCache(r.read);
  await c.standing("a1");
  await c.standing("a2");
  r.rows.set("a1", r.dev("d1", "revoked"));
  c.forget({ deviceId: null, serials: ["a1"] });
  assert.equal((await c.standing("a1"))?.status, "revoked");
  assert.equal((await c.standing("a2"))?.status, "valid");
  assert.equal(r.reads(), 3);
});

test("a device revocation drops every certificate of the device, even ones the notice does not list", async () => {
  const r = registry();
  r.rows.set("a1", r.dev("d1"));
  r.rows.set("a2", r.dev("d1"));
  r.rows.set("b1", r.dev("d2"));
  const c = new StandingCache(r.read);
  for (const s of ["a1", "a2", "b1"]) await c.standing(s);
  r.rows.set("a1", r.dev("d1", "valid", "revoked"));
  r.rows.set("a2", r.dev("d1", "valid", "revoked"));
  c.forget({ deviceId: "d1", serials: [] });
  assert.equal((await c.standing("a1"))?.deviceStatus, "revoked");
  assert.equal((await c.standing("a2"))?.deviceStatus, "revoked");
  assert.equal((await c.standing("b1"))?.deviceStatus, "active");
  assert.equal(c.size, 1);
});

test("while disabled (revocation log unreadable) nothing is served from memory", async () => {
  const r = registry();
  r.rows.set("a1", r.dev("d1"));
  const c = new StandingCache(r.read);
  await c.standing("a1");
  c.clear(false);
  await c.standing("a1");
  await c.standing("a1");
  assert.equal(r.reads(), 3);
  c.clear(true);
  await c.standing("a1");
  await c.standing("a1");
  assert.equal(r.reads(), 4);
});

test("the cache is bounded: the oldest entry goes first", async () => {
  const r = registry();
  for (let i = 0; i < 5; i++) r.rows.set(`s${i}`, r.dev(`d${i}`));
  const c = new StandingCache(r.read, 3);
  for (let i = 0; i < 5; i++) await c.standing(`s${i}`);
  assert.equal(c.size, 3);
  await c.standing("s0");
  assert.equal(r.reads(), 6, "s0 was evicted and read again");
  c.forget({ deviceId: "d1", serials: [] }); // evicted already: nothing to do, no error
});

test("a read that overlaps a revocation is answered but not cached", async () => {
  const r = registry();
  r.rows.set("a1", r.dev("d1"));
  let release!: () => void;
  const slow = (serial: string) => new Promise<CertStanding | undefined>((resolve) => (release = () => resolve(r.rows.get(serial))));
  const c = new StandingCache(slow);
  const pending = c.standing("a1");
  c.forget({ deviceId: "d1", serials: ["a1"] });
  release();
  assert.equal((await pending)?.status, "valid", "the answer read before the revocation");
  assert.equal(c.size, 0, "not cached: it may predate the revocation");
});
