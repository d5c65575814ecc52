import { test } from "node:test";
import assert from "node:assert/strict";
import type { Statement } from "better-sqlite3";
import { openStore } from "../../db/open.js";
import { sq } from "../../testkit/registry.js";

/** Every prepared statement the repositories hold, found by shape (a better-sqlite3 Statement has `source` and `reader`). */
function statements(store: ReturnType<typeof openStore>): Statement[] {
  const out: Statement[] = [];
  const { devices, certificates, tokens, audit, revocations } = sq(store).sync;
  for (const repo of [devices, certificates, tokens, audit, revocations]) {
    for (const v of Object.values(repo as object)) if (v && typeof v === "object" && "source" in v && "reader" in v) out.push(v as Statement);
  }
  return out;
}

function plan(store: ReturnType<typeof openStore>, sql: string): string[] {
  const st = sq(store).db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  // Values do not matter to the plan; supply as many as the statement takes.
  for (let n = 0; n < 16; n++) {
    try {
      return (st.all(...Array<number>(n).fill(0)) as { detail: string }[]).map((r) => r.detail);
    } catch (e) {
      if (!/parameter/.test((e as Error).message)) throw e;
    }
  }
  throw new Error(`cannot explain ${sql}`);
}

/** Statements that read the whole fleet on purpose (listing, CRL, the expiry gauge). */
const FLEET_WIDE = [
  /^SELECT \* FROM devices ORDER BY id/,
  /^SELECT \* FROM certificates WHERE status = 'revoked'/,
  /^SELECT count\(\*\) AS n FROM \(SELECT max\(not_after\)/,
  /^SELECT \* FROM audit_events ORDER BY at DESC/,
  // The operator's listing of outstanding tokens.
  /^SELECT \* FROM tokens WHERE used_at IS NULL AND expires_at > \? ORDER BY/,
  // ?security=true: the trail newest first without presence rows (coalesced, so few to skip).
  /^SELECT \* FROM audit_events WHERE type NOT IN/,
];

test("every per-key statement searches an index and never walks the fleet", () => {
  const store = openStore(":memory:");
  try {
    const all = statements(store);
    assert.ok(all.length >= 20, `found ${all.length} statements`);
    for (const st of all) {
      if (FLEET_WIDE.some((re) => re.test(st.source))) continue;
      const p = plan(store, st.source).join("; ");
      assert.ok(!/\bSCAN\b/.test(p), `${st.source}\n  scans: ${p}`);
      // certificates_revoked serves the CRL; a statement keyed on a device or serial must not use it.
      assert.ok(!/certificates_revoked/.test(p), `${st.source}\n  uses the fleet-wide index: ${p}`);
    }
  } finally {
    store.close();
  }
});

test("revoking a device's certificates goes through the device index", () => {
  const store = openStore(":memory:");
  try {
    const st = statements(store).find((s) => s.source.startsWith("UPDATE certificates SET status = 'revoked'"));
    assert.ok(st);
    assert.match(plan(store, st.source).join("; "), /USING INDEX certificates_device \(device_id=\?/);
  } finally {
    store.close();
  }
});
