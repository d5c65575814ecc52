import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, type Credential } from "../../testkit/certs.js";
import { attempt, connect, granted, inbox, logged } from "./broker-helpers.js";

let g: TestGateway;
let d1: Credential, d2: Credential, svc: Credential, ops: Credential;
const open: MqttClient[] = [];
const track = (c: MqttClient) => (open.push(c), c);

before(async () => {
  g = await startTestGateway({ "max-subscriptions": "5" });
  d1 = issueDirect(g.gw.deps, "d1");
  d2 = issueDirect(g.gw.deps, "d2");
  svc = issueDirect(g.gw.deps, "svc", { role: "service" });
  ops = issueDirect(g.gw.deps, "ops", { role: "admin" });
});

after(async () => {
  for (const c of open) c.end(true);
  await g.close();
});

test("a device publishes telemetry and a service receives it", async () => {
  const s = track(await connect(g, svc, "svc-telemetry"));
  const box = inbox(s);
  assert.deepEqual(await granted(s, ["devices/+/telemetry"]), [1]);
  const dev = track(await connect(g, d1, "d1"));
  await dev.publishAsync("devices/d1/telemetry", "21.5", { qos: 1 });
  const m = await box.waitFor((x) => x.topic === "devices/d1/telemetry");
  assert.equal(m.payload, "21.5");
  dev.end(true);
});

test("a service command reaches only the addressed device", async () => {
  const a = track(await connect(g, d1, "d1"));
  const b = track(await connect(g, d2, "d2"));
  const boxA = inbox(a);
  const boxB = inbox(b);
  assert.deepEqual(await granted(a, ["devices/d1/commands/#"]), [1]);
  assert.deepEqual(await granted(b, ["devices/d2/commands/#"]), [1]);
  const s = track(await connect(g, svc, "svc-cmd"));
  await s.publishAsync("devices/d1/commands/reboot", "now", { qos: 1 });
  await s.publishAsync("devices/d2/commands/sentinel", "s", { qos: 1 });
  assert.equal((await boxA.waitFor((x) => x.topic === "devices/d1/commands/reboot")).payload, "now");
  // Routed in publish order: had d1's command leaked to d2, it would precede the sentinel.
  await boxB.waitFor((x) => x.topic === "devices/d2/commands/sentinel");
  assert.deepEqual(boxB.messages.map((x) => x.topic), ["devices/d2/commands/sentinel"]);
  a.end(true);
  b.end(true);
});

test("a cross-device publish is acknowledged but dropped and logged; the connection stays up", async () => {
  const s = track(await connect(g, svc, "svc-cross"));
  const box = inbox(s);
  await granted(s, ["devices/#"]);
  const dev = track(await connect(g, d1, "d1"));
  await dev.publishAsync("devices/d2/telemetry", "forged", { qos: 1 }); // [MQTT-3.3.5-2] positive ack, not routed
  await dev.publishAsync("devices/d1/commands/x", "self-command", { qos: 1 });
  await dev.publishAsync("devices/d1/telemetry", "sentinel", { qos: 1 });
  await box.waitFor((x) => x.payload === "sentinel");
  assert.deepEqual(box.messages.map((x) => x.payload), ["sentinel"]);
  assert.ok(dev.connected);
  const lines = logged(g, "FG_ACL_PUBLISH_DENIED");
  assert.ok(lines.some((l) => l.topic === "devices/d2/telemetry" && l.deviceId === "d1" && typeof l.serial === "string"), "denied publish logged with device and serial");
  dev.end(true);
});

test("a service may only publish commands", async () => {
  const s = track(await connect(g, svc, "svc-pub"));
  const watcher = track(await connect(g, ops, "ops-watch"));
  const box = inbox(watcher);
  await granted(watcher, ["devices/#"]);
  await s.publishAsync("devices/d1/telemetry", "fake-telemetry", { qos: 1 });
  await s.publishAsync("devices/d1/commands/ok", "cmd", { qos: 1 });
  await box.waitFor((x) => x.payload === "cmd");
  assert.deepEqual(box.messages.map((x) => x.payload), ["cmd"]);
});

test("each forbidden filter is refused with SUBACK 0x80, allowed ones are granted", async () => {
  const dev = track(await connect(g, d1, "d1"));
  assert.deepEqual(
    await granted(dev, ["#", "devices/+/commands/#", "devices/d2/commands/#", "$SYS/#", "devices/d1/#", "devices/d1/commands/#"]),
    [0x80, 0x80, 0x80, 0x80, 0x80, 1],
  );
  const s = track(await connect(g, svc, "svc-subs"));
  assert.deepEqual(await granted(s, ["#", "$SYS/#", "+/telemetry", "devices/#"]), [0x80, 0x80, 0x80, 1]);
  const a = track(await connect(g, ops, "ops"));
  assert.deepEqual(await granted(a, ["$SYS/#", "devices/#", "#"]), [1, 1, 0x80]);
  assert.ok(logged(g, "FG_ACL_SUBSCRIBE_DENIED").some((l) => l.filter === "devices/+/commands/#" && l.deviceId === "d1"));
  dev.end(true);
});

test("an admin subscribed to $SYS receives the broker's $SYS messages", async () => {
  const a = track(await connect(g, ops, "ops-sys"));
  const box = inbox(a);
  await granted(a, ["$SYS/+/new/clients", "$SYS/+/disconnect/clients"]);
  const dev = track(await connect(g, d2, "d2"));
  await box.waitFor((x) => x.topic.endsWith("/new/clients") && x.payload === "d2");
  await dev.endAsync();
  await box.waitFor((x) => x.topic.endsWith("/disconnect/clients") && x.payload === "d2");
  await a.endAsync();
  // The announcements are skipped while no session watches $SYS (internals.ts muteSysAnnouncements);
  // a new watcher gets them again.
  const b = track(await connect(g, ops, "ops-sys2"));
  const box2 = inbox(b);
  await granted(b, ["$SYS/+/new/clients"]);
  track(await connect(g, d2, "d2"));
  await box2.waitFor((x) => x.topic.endsWith("/new/clients") && x.payload === "d2");
});

test("the subscription limit refuses filters beyond --max-subscriptions", async () => {
  const s = track(await connect(g, svc, "svc-limit"));
  const filters = ["devices/a/#", "devices/b/#", "devices/c/#", "devices/d/#", "devices/e/#", "devices/f/#"];
  assert.deepEqual(await granted(s, filters), [1, 1, 1, 1, 1, 0x80]);
  // Re-subscribing to a granted filter does not count twice.
  assert.deepEqual(await granted(s, ["devices/a/#"]), [1]);
  await s.unsubscribeAsync("devices/a/#");
  assert.deepEqual(await granted(s, ["devices/g/#"]), [1]);
  assert.ok(logged(g, "FG_MQTT_TOO_MANY_SUBSCRIPTIONS").length > 0);
});

test("a will aimed at another device refuses the connection with CONNACK 5", async () => {
  const r = await attempt(g, d1, "d1", { will: { topic: "devices/d2/status", payload: Buffer.from("offline"), qos: 1, retain: false } });
  assert.equal(r.kind, "connack");
  assert.equal((r as { code: number }).code, 5);
  assert.ok(logged(g, "FG_MQTT_WILL_DENIED").some((l) => l.clientId === "d1"));
});

test("a will in the device's own subtree is accepted and published on an abrupt disconnect", async () => {
  const s = track(await connect(g, svc, "svc-will"));
  const box = inbox(s);
  await granted(s, ["devices/d1/status"]);
  const dev = await connect(g, d1, "d1", { will: { topic: "devices/d1/status", payload: Buffer.from("gone"), qos: 1, retain: false } });
  dev.stream.destroy();
  assert.equal((await box.waitFor((x) => x.topic === "devices/d1/status")).payload, "gone");
  dev.end(true);
});

test("retained messages cannot be planted in (or deleted from) another device's subtree", async () => {
  const owner = track(await connect(g, d2, "d2"));
  await owner.publishAsync("devices/d2/state", "legit", { qos: 1, retain: true });
  const intruder = track(await connect(g, d1, "d1"));
  await intruder.publishAsync("devices/d2/state", "planted", { qos: 1, retain: true });
  await intruder.publishAsync("devices/d2/other", "planted", { qos: 1, retain: true });
  await intruder.publishAsync("devices/d2/state", "", { qos: 1, retain: true }); // would delete the retained message
  await intruder.publishAsync("devices/d1/state", "mine", { qos: 1, retain: true });
  const s = track(await connect(g, svc, "svc-retained"));
  const box = inbox(s);
  await granted(s, ["devices/d2/#"]);
  await granted(s, ["devices/d1/state"]);
  assert.equal((await box.waitFor((x) => x.topic === "devices/d1/state")).payload, "mine");
  const m = await box.waitFor((x) => x.topic === "devices/d2/state");
  assert.equal(m.payload, "legit");
  assert.equal(m.retain, true);
  assert.deepEqual(box.messages.filter((x) => x.topic.startsWith("devices/d2/")).map((x) => x.payload), ["legit"]);
});
