import { test } from "node:test";
import assert from "node:assert/strict";
import { RevocationFollower, type RevocationNotice } from "../../broker/revocation.js";
import { GatewayEvents } from "../../runtime/deps.js";
import { silentLogger } from "../../log.js";
import type { Store } from "../../db/store.js";
import type { RevocationLogEntry } from "../../db/types.js";

/** A revocation log that can be made unreadable, standing in for store.revocations. */
function fakeLog() {
  const entries: RevocationLogEntry[] = [];
  let broken = false;
  const revocations = {
    head: () => entries.at(-1)?.seq ?? 0,
    since: (seq: number) => {
      if (broken) throw new Error("SQLITE_IOERR");
      return entries.filter((e) => e.seq > seq);
    },
  };
  return {
    store: { revocations } as unknown as Store,
    add: (deviceId: string | null, serial: string) => entries.push({ seq: entries.length + 1, deviceId, serial, at: 0 }),
    break: (b: boolean) => (broken = b),
  };
}

test("the follower reports an unreadable log once, then readable again, and loses no entry meanwhile", async () => {
  const log = fakeLog();
  const notices: RevocationNotice[] = [];
  const health: boolean[] = [];
  const f = new RevocationFollower({ store: log.store, events: new GatewayEvents(), log: silentLogger() }, (n) => notices.push(n), 60_000, (ok) => health.push(ok));
  log.add("old", "s0"); // before start: the follower begins at the head
  await f.start();
  try {
    log.add("d1", "s1");
    log.break(true);
    await f.tick();
    await f.tick();
    assert.deepEqual(health, [false], "told once when the log became unreadable");
    assert.equal(notices.length, 0);
    log.add("d2", "*");
    log.break(false);
    await f.tick();
    assert.deepEqual(health, [false, true]);
    assert.deepEqual(notices.map((n) => [n.deviceId, n.serials, n.source]), [["d1", ["s1"], "log"], ["d2", [], "log"]]);
    await f.tick();
    assert.equal(notices.length, 2, "nothing is delivered twice");
  } finally {
    f.stop();
  }
});

test("in-process revocation events are delivered at once, as events", async () => {
  const log = fakeLog();
  const events = new GatewayEvents();
  const notices: RevocationNotice[] = [];
  const f = new RevocationFollower({ store: log.store, events, log: silentLogger() }, (n) => notices.push(n), 60_000);
  await f.start();
  events.emit("revoked", { deviceId: "d9", serials: ["a", "b"], reason: "keyCompromise" });
  f.stop();
  events.emit("revoked", { deviceId: "d10", serials: [], reason: "keyCompromise" });
  assert.deepEqual(notices.map((n) => [n.deviceId, n.serials, n.source]), [["d9", ["a", "b"], "event"]]);
});
