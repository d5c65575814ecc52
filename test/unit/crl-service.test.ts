import { test } from "node:test";
import assert from "node:assert/strict";
import { CrlService } from "../../enroll/crl-service.js";
import type { Store } from "../../db/store.js";

/** A registry that answers after a turn, as a networked one would, and counts CRL numbers handed out. */
function fakeStore(head: { value: number }) {
  let numbers = 0;
  const later = <T>(v: T) => new Promise<T>((r) => setImmediate(() => r(v)));
  const store = {
    revocations: { head: () => later(head.value), nextCrlNumber: () => later(++numbers) },
    certificates: { revokedUnexpired: () => later([]) },
  } as unknown as Store;
  return { store, numbers: () => numbers };
}

test("concurrent requests for a stale CRL share one build and one CRL number", async () => {
  const head = { value: 1 };
  const f = fakeStore(head);
  let signed = 0;
  const svc = new CrlService({ store: f.store, clock: Date.now, ca: { signCrl: (_e, n) => { signed++; return Buffer.from(`crl-${n}`); } } });
  const all = await Promise.all([svc.current(), svc.current(), svc.current()]);
  assert.deepEqual(all.map(String), ["crl-1", "crl-1", "crl-1"]);
  assert.equal(f.numbers(), 1);
  assert.equal(signed, 1);
  // Cached while the log does not move; rebuilt (next number) once it does.
  assert.equal(String(await svc.current()), "crl-1");
  head.value = 2;
  assert.equal(String(await svc.current()), "crl-2");
  assert.equal(f.numbers(), 2);
});
