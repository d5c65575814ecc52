/**
 * The aedes 1.2.0 / mqemitter 7 router recursion, reproduced without sockets:
 * a backlog of messages nobody subscribes to, released at once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Aedes } from "aedes";
import { breakSyncRelease } from "../../broker/internals.js";

interface Router {
  length: number;
  on(topic: string, fn: (packet: unknown, cb: () => void) => void, done?: () => void): void;
  emit(packet: { topic: string; payload: Buffer }, cb: () => void): void;
}

const BACKLOG = 50_000;

/** One slow listener holds the only router slot while BACKLOG messages without listeners queue up; then it lets go. */
async function drainBacklog(guard: boolean): Promise<{ threw: unknown; completed: () => number }> {
  const broker = await Aedes.createBroker({ concurrency: 1, heartbeatInterval: 3_600_000 });
  if (guard) assert.equal(breakSyncRelease(broker), "dispatch", "aedes 1.2.0's router internals are the expected ones");
  const mq = (broker as unknown as { mq: Router }).mq;
  let hold: (() => void) | undefined;
  mq.on("slow/topic", (_p, cb) => void (hold = cb));
  let completed = 0;
  mq.emit({ topic: "slow/topic", payload: Buffer.alloc(0) }, () => completed++);
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < BACKLOG; i++) mq.emit({ topic: `nobody/${i % 50}/telemetry`, payload: Buffer.alloc(0) }, () => completed++);
  assert.ok(mq.length >= BACKLOG - 1, `backlog queued (${mq.length})`);
  let threw: unknown;
  try {
    hold!();
  } catch (e) {
    threw = e;
  }
  // close() clears aedes' timers first; after an overflow the router state is broken, so do not wait on it.
  if (threw) broker.close();
  else await new Promise<void>((r) => broker.close(() => r()));
  return { threw, completed: () => completed };
}

test("plain aedes: releasing a backlog of unsubscribed messages overflows the stack (the flood crash)", async () => {
  const r = await drainBacklog(false);
  assert.ok(r.threw instanceof RangeError, `expected RangeError, got ${String(r.threw)}`);
  assert.match((r.threw as Error).message, /Maximum call stack size exceeded/);
});

test("with breakSyncRelease the same backlog drains on later event-loop turns and every message completes", async () => {
  const r = await drainBacklog(true);
  assert.equal(r.threw, undefined);
  const deadline = Date.now() + 60_000;
  while (r.completed() < BACKLOG + 1 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  assert.equal(r.completed(), BACKLOG + 1);
});

test("breakSyncRelease refuses loudly, installing nothing, when the router is not mqemitter 7", () => {
  const added: string[] = [];
  const fake = { mq: { length: 0, on: (topic: string) => void added.push(topic) } };
  assert.throws(() => breakSyncRelease(fake as unknown as Aedes), /not mqemitter 7/);
  assert.deepEqual(added, []);
});
