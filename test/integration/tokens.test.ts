import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { openStore } from "../../db/open.js";
import { createToken, hashToken, tokenUsable } from "../../enroll/tokens.js";
import { tmpDir } from "../../testkit/gateway.js";
import { sq } from "../../testkit/registry.js";

test("a token works once, and only for its device", async () => {
  const store = openStore(path.join(tmpDir(), "gateway.db"));
  try {
    const now = Date.now();
    const { token } = await createToken({ store, clock: () => now }, "dev-1", 3600, "test");
    const h = hashToken(token);
    assert.equal(await tokenUsable(store, "dev-2", token, now), false);
    assert.equal(sq(store).sync.tokens.consume(h, "dev-2", now), false, "another device cannot use it");
    assert.equal(await tokenUsable(store, "dev-1", token, now), true);
    assert.equal(sq(store).sync.tokens.consume(h, "dev-1", now), true);
    assert.equal(sq(store).sync.tokens.consume(h, "dev-1", now), false, "second use fails");
    assert.equal(await tokenUsable(store, "dev-1", token, now), false);
  } finally {
    await store.close();
  }
});

test("an expired token is refused", async () => {
  const store = openStore(path.join(tmpDir(), "gateway.db"));
  try {
    const t0 = Date.now();
    const { token } = await createToken({ store, clock: () => t0 }, "dev-1", 60, "test");
    assert.equal(sq(store).sync.tokens.consume(hashToken(token), "dev-1", t0 + 61_000), false);
    assert.equal(sq(store).sync.tokens.consume(hashToken(token), "dev-1", t0 + 59_000), true);
  } finally {
    await store.close();
  }
});

test("only the SHA-256 of a token is stored", async () => {
  const dir = tmpDir();
  const store = openStore(path.join(dir, "gateway.db"));
  try {
    const { token } = await createToken({ store, clock: Date.now }, "dev-1", 60, "test");
    const rows = sq(store).db.prepare("SELECT * FROM tokens").all() as Record<string, unknown>[];
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(token));
    assert.equal(rows[0]!.hash, hashToken(token));
    const audit = JSON.stringify(sq(store).sync.audit.newest(10));
    assert.ok(!audit.includes(token), "the audit trail does not hold the token");
  } finally {
    await store.close();
  }
});

test("concurrent consumption of one token from 8 connections succeeds at most once", async () => {
  const file = path.join(tmpDir(), "gateway.db");
  const store = openStore(file);
  const { token } = await createToken({ store, clock: Date.now }, "dev-race", 3600, "test");
  await store.close();
  const hash = hashToken(token);
  // Eight threads, each with its own SQLite connection to the same file, released at the same instant.
  const gate = new SharedArrayBuffer(4);
  const storeModule = new URL("../../db/open.js", import.meta.url).href;
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    import(workerData.storeModule).then(({ openStore }) => {
      const s = openStore(workerData.file);
      const flag = new Int32Array(workerData.gate);
      parentPort.postMessage("ready");
      Atomics.wait(flag, 0, 0);
      return s.tokens.consume(workerData.hash, "dev-race", Date.now()).then(async (won) => {
        await s.close();
        parentPort.postMessage(won);
      });
    });`;
  const results = await new Promise<boolean[]>((resolve, reject) => {
    const out: boolean[] = [];
    let ready = 0;
    const workers = Array.from({ length: 8 }, () => new Worker(code, { eval: true, workerData: { file, hash, gate, storeModule } }));
    for (const w of workers) {
      w.on("error", reject);
      w.on("message", (m: unknown) => {
        if (m === "ready") {
          if (++ready === workers.length) {
            const flag = new Int32Array(gate);
            Atomics.store(flag, 0, 1);
            Atomics.notify(flag, 0);
          }
          return;
        }
        out.push(m as boolean);
        if (out.length === workers.length) resolve(out);
      });
    }
  });
  assert.equal(results.filter(Boolean).length, 1, `exactly one winner: ${JSON.stringify(results)}`);
});
