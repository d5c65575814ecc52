import { test } from "node:test";
import assert from "node:assert/strict";
import type { Aedes } from "aedes";
import { muteSysAnnouncements } from "../../broker/internals.js";

/** A stand-in with aedes' publish signature that records what reached it. */
function fakeBroker() {
  const seen: string[] = [];
  const b = {
    id: "b1",
    publish(packet: { topic: string }, client?: unknown, done?: (e?: Error | null) => void) {
      seen.push(packet.topic);
      (typeof client === "function" ? client : done)?.(null);
    },
  };
  return { b, seen, aedes: b as unknown as Aedes };
}

test("per-client $SYS announcements are skipped while nobody watches, and still call back", () => {
  const { b, seen, aedes } = fakeBroker();
  let watching = false;
  muteSysAnnouncements(aedes, () => watching);
  let calls = 0;
  for (const t of ["new/clients", "disconnect/clients", "new/subscribes", "new/unsubscribes"]) b.publish({ topic: `$SYS/b1/${t}` }, () => calls++);
  b.publish({ topic: "$SYS/b1/new/clients" }, null, () => calls++);
  assert.deepEqual(seen, []);
  assert.equal(calls, 5, "every skipped publish completes");
  watching = true;
  b.publish({ topic: "$SYS/b1/new/clients" }, () => calls++);
  assert.deepEqual(seen, ["$SYS/b1/new/clients"]);
});

test("other topics, other brokers' ids, heartbeats and client publishes are never skipped", () => {
  const { b, seen, aedes } = fakeBroker();
  muteSysAnnouncements(aedes, () => false);
  b.publish({ topic: "$SYS/b1/heartbeat" }, () => {});
  b.publish({ topic: "$SYS/other/new/clients" }, () => {});
  b.publish({ topic: "devices/d1/telemetry" }, () => {});
  b.publish({ topic: "$SYS/b1/new/clients" }, { id: "a-client" }, () => {});
  assert.deepEqual(seen, ["$SYS/b1/heartbeat", "$SYS/other/new/clients", "devices/d1/telemetry", "$SYS/b1/new/clients"]);
});
