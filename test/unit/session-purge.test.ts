import { test } from "node:test";
import assert from "node:assert/strict";
import { Aedes } from "aedes";
import { purgeDevice, type SessionPersistence } from "../../broker/session-purge.js";

const retained = (topic: string, payload = "x") => ({ cmd: "publish" as const, topic, payload: Buffer.from(payload), qos: 0 as const, retain: true as const, dup: false as const });

async function topicsOf(p: SessionPersistence, pattern = "#"): Promise<string[]> {
  const out: string[] = [];
  for await (const m of p.createRetainedStreamCombi([pattern])) out.push((m as { topic: string }).topic);
  return out.sort();
}

test("purgeDevice removes the device's retained messages (its subtree and its root), session, queue and will, and nothing of anyone else", async (t) => {
  // aedes' own default store (aedes-persistence, in memory), as the gateway's broker uses it.
  const broker = new Aedes();
  await broker.listen();
  t.after(() => new Promise<void>((r) => broker.close(() => r())));
  const p = (broker as unknown as { persistence: SessionPersistence & Record<string, (...a: unknown[]) => Promise<unknown>> }).persistence;
  for (const t of ["devices/d1", "devices/d1/status", "devices/d1/a/b/c", "devices/d1/commands/x", "devices/d10/status", "devices/d1x/status", "devices/d2/status"]) {
    await p.storeRetained(retained(t));
  }
  const d1 = { id: "d1" };
  const d2 = { id: "d2" };
  await p.addSubscriptions(d1, [{ topic: "devices/d1/commands/#", qos: 1 }, { topic: "devices/d1/commands/q0", qos: 0 }]);
  await p.addSubscriptions(d2, [{ topic: "devices/d2/commands/#", qos: 1 }]);
  const pkt = { cmd: "publish", topic: "devices/d1/commands/go", payload: Buffer.from("go"), qos: 1, retain: false, brokerId: "b1", brokerCounter: 1 };
  await p.outgoingEnqueueCombi([{ clientId: "d1" }, { clientId: "d1" }, { clientId: "d2" }], pkt);
  await p.putWill(d1, { cmd: "publish", topic: "devices/d1/status", payload: Buffer.from("gone"), qos: 0, retain: false });
  await p.incomingStorePacket(d1, { cmd: "publish", topic: "devices/d1/x", payload: Buffer.from("2"), qos: 2, messageId: 7 });

  const r = await purgeDevice(p, "d1");
  assert.deepEqual(r, { retained: 4, subscriptions: 2, queued: 2, will: 1 });
  assert.deepEqual(await topicsOf(p), ["devices/d10/status", "devices/d1x/status", "devices/d2/status"], "ids sharing a prefix are other devices");
  assert.deepEqual(await p.subscriptionsByClient(d1), []);
  assert.equal((await p.subscriptionsByClient(d2)).length, 1);
  assert.deepEqual(await (p as unknown as { subscriptionsByTopic(t: string): Promise<unknown[]> }).subscriptionsByTopic("devices/d1/commands/go"), [], "nothing can be queued for d1 any more");
  const left: unknown[] = [];
  for await (const m of p.outgoingStream(d1)) left.push(m);
  assert.deepEqual(left, []);
  const other: unknown[] = [];
  for await (const m of p.outgoingStream(d2)) other.push(m);
  assert.equal(other.length, 1);
  assert.equal(await p.delWill(d1), undefined);
  await assert.rejects(() => (p as unknown as { incomingGetPacket(c: unknown, k: unknown): Promise<unknown> }).incomingGetPacket(d1, { messageId: 7 }));

  assert.deepEqual(await purgeDevice(p, "d1"), { retained: 0, subscriptions: 0, queued: 0, will: 0 }, "a second purge finds nothing");
});
