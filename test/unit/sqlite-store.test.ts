import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { openSqliteStore } from "../../db/sqlite/store.js";
import { tmpDir } from "../../testkit/gateway.js";

const open = () => openSqliteStore(path.join(tmpDir("fg-store-"), "gateway.db"));

test("a transaction commits when fn fulfils and rolls back every write when it rejects", async () => {
  const s = open();
  try {
    await s.transaction(async (tx) => tx.devices.ensure("d1", 1));
    await assert.rejects(s.transaction(async (tx) => {
      await tx.devices.ensure("d2", 1);
      await tx.audit.append({ type: "x" });
      throw new Error("boom");
    }), /boom/);
    assert.ok(await s.devices.get("d1"));
    assert.equal(await s.devices.get("d2"), undefined, "rolled back");
    assert.deepEqual(await s.audit.newest(10), []);
    assert.equal(s.db.inTransaction, false);
  } finally {
    await s.close();
  }
});

test("a call on the store made while a transaction is open waits for its end: it neither lands in it nor sees its rows", async () => {
  const s = open();
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const txDone = s.transaction(async (tx) => {
      await tx.devices.ensure("d1", 1);
      order.push("tx wrote");
      await held;
      throw new Error("abort");
    });
    await new Promise((r) => setImmediate(r));
    // Both queued behind the open transaction.
    const read = s.devices.get("d1").then((r) => (order.push("read"), r));
    const write = s.audit.append({ type: "outside" }).then(() => order.push("write"));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ["tx wrote"], "nothing ran inside the open transaction");
    release();
    await assert.rejects(txDone, /abort/);
    assert.equal(await read, undefined, "the read saw no uncommitted row");
    await write;
    assert.deepEqual(order, ["tx wrote", "read", "write"]);
    assert.deepEqual((await s.audit.newest(10)).map((e) => e.type), ["outside"], "the outside write survived the rollback");
  } finally {
    await s.close();
  }
});

test("transactions are serialized, and a transaction's repositories refuse use after it ended", async () => {
  const s = open();
  try {
    let leaked: Parameters<Parameters<typeof s.transaction>[0]>[0] | undefined;
    const runs = await Promise.all([1, 2, 3].map((i) => s.transaction(async (tx) => {
      leaked = tx;
      const before = (await tx.devices.list()).length;
      await tx.devices.ensure(`d${i}`, i);
      return before;
    })));
    assert.deepEqual(runs, [0, 1, 2], "each saw the previous one's commit");
    await assert.rejects(leaked!.devices.get("d1"), /transaction already ended/);
  } finally {
    await s.close();
  }
});

test("a failing statement rejects (it never throws synchronously), and the store stays usable", async () => {
  const s = open();
  try {
    const p = s.certificates.insert({ serial: "01", role: "device", name: "nodev", deviceId: "nodev", notBefore: 0, notAfter: 1, issuedAt: 0, pem: "-", spkiSha256: null });
    await assert.rejects(p, /FOREIGN KEY/);
    await s.devices.ensure("d1", 1);
    assert.ok(await s.devices.get("d1"));
  } finally {
    await s.close();
  }
});
