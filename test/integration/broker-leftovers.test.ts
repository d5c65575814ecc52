/**
 * What revocation and refusal leave behind in the broker's store: retained
 * messages and persistent sessions of revoked devices, and SUBSCRIBE filters
 * refused with 0x80 ([MQTT-3.9.3]) that a persistent session must not keep.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { CLI, startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, type Credential } from "../../testkit/certs.js";
import { revokeDevice } from "../../enroll/fleet.js";
import { connect, granted, inbox, opts, run, until } from "./broker-helpers.js";
import { sq } from "../../testkit/registry.js";

let g: TestGateway;
const open: MqttClient[] = [];
const track = (c: MqttClient) => (open.push(c), c);

before(async () => {
  g = await startTestGateway({ "max-subscriptions": "5" });
});
after(async () => {
  for (const c of open) c.end(true);
  await g.close();
});

async function metric(re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.gw.metricsPort}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? 0);
}
const forwardDenials = () => metric(/^gateway_acl_denials_total\{action="forward",reason="not_visible"\} (\d+)/m);

/** Connects and returns the client with CONNACK's session-present flag; messages are collected from the start. */
async function connectSession(c: Pick<Credential, "certPem" | "keyPem">, clientId: string, extra: IClientOptions = {}) {
  const client = track(mqtt.connect(g.mqttUrl, opts(g, c, clientId, { clean: false, ...extra })));
  const box = inbox(client);
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  return { client, box, sessionPresent: connack.sessionPresent };
}

/** A service that sees every retained message under devices/ (the path proven live by `witness`). */
async function retainedSeen(witness: string): Promise<string[]> {
  const svc = issueDirect(g.gw.deps, `svc-${witness}`, { role: "service" });
  const s = track(await connect(g, svc, `svc-${witness}`));
  const box = inbox(s);
  await granted(s, ["devices/#"]);
  await box.waitFor((m) => m.topic.startsWith(`devices/${witness}/`));
  // Retained messages are sent in one pass after SUBACK; a round trip through the broker orders after it.
  await s.publishAsync(`devices/${witness}/commands/ping`, "ping", { qos: 1 });
  await box.waitFor((m) => m.topic === `devices/${witness}/commands/ping`);
  s.end(true);
  return box.messages.filter((m) => m.retain).map((m) => m.topic);
}

/** Puts a revoked device id back in service, as an operator re-provisioning the same id would. */
function reactivate(deviceId: string): void {
  sq(g.gw.deps.store).db.prepare("UPDATE devices SET status = 'active', revoked_at = NULL, revocation_reason = NULL WHERE id = ?").run(deviceId);
}

const purgeEvent = (deviceId: string) =>
  until(() => sq(g.gw.deps.store).sync.audit.forDevice(deviceId, 50).find((e) => e.type === "mqtt.session_purged"), 10_000, `purge audit event for ${deviceId}`);

test("revoking a device (keyCompromise, this process) deletes its retained messages; other devices keep theirs", async () => {
  const dev = issueDirect(g.gw.deps, "ret-a");
  const other = issueDirect(g.gw.deps, "ret-keep");
  const d = track(await connect(g, dev, "ret-a"));
  await d.publishAsync("devices/ret-a/status", "online", { qos: 1, retain: true });
  await d.publishAsync("devices/ret-a/config/deep/level", "x", { qos: 1, retain: true });
  const o = track(await connect(g, other, "ret-keep"));
  await o.publishAsync("devices/ret-keep/status", "online", { qos: 1, retain: true });
  const before = await retainedSeen("ret-keep");
  assert.ok(before.includes("devices/ret-a/status") && before.includes("devices/ret-a/config/deep/level"), `retained before: ${before}`);

  await revokeDevice(g.gw.deps, "ret-a", "keyCompromise", "test");
  const ev = await purgeEvent("ret-a");
  assert.equal(ev.actor, "system");
  assert.equal(ev.detail?.retained, 2);
  assert.equal(ev.detail?.retainedTopics, "devices/ret-a/#");

  const after = await retainedSeen("ret-keep");
  assert.deepEqual(after.filter((t) => t.startsWith("devices/ret-a/")), [], "no retained message of the revoked device is served");
  assert.ok(after.includes("devices/ret-keep/status"), "another device's retained message survives");
  // Seen twice in this process (event, then log), recorded once.
  assert.equal(sq(g.gw.deps.store).sync.audit.forDevice("ret-a", 50).filter((e) => e.type === "mqtt.session_purged").length, 1);
});

test("revoking from the CLI (another process) purges retained messages and the persistent session with its queued commands", async () => {
  const dev = issueDirect(g.gw.deps, "cli-sess");
  const first = await connectSession(dev, "cli-sess");
  assert.deepEqual(await granted(first.client, ["devices/cli-sess/commands/#"]), [1]);
  await first.client.publishAsync("devices/cli-sess/state", "on", { qos: 1, retain: true });
  await first.client.endAsync();
  const svc = track(await connect(g, issueDirect(g.gw.deps, "svc-cli", { role: "service" }), "svc-cli"));
  for (const n of [1, 2, 3]) await svc.publishAsync("devices/cli-sess/commands/do", `queued-${n}`, { qos: 1 });

  const r = await run(process.execPath, [CLI, "devices", "revoke", "cli-sess", "--data", g.dataDir, "--reason", "cessationOfOperation"]);
  assert.equal(r.code, 0, r.stderr);
  const ev = await purgeEvent("cli-sess");
  assert.deepEqual({ r: ev.detail?.retained, s: ev.detail?.subscriptions, q: ev.detail?.queued }, { r: 1, s: 1, q: 3 });

  // The same id, re-provisioned, starts from nothing: no session, no queued commands, no retained state.
  reactivate("cli-sess");
  const again = await connectSession(issueDirect(g.gw.deps, "cli-sess"), "cli-sess");
  assert.equal(again.sessionPresent, false, "the persistent session did not survive the revocation");
  assert.deepEqual(await granted(again.client, ["devices/cli-sess/commands/#"]), [1]);
  await svc.publishAsync("devices/cli-sess/commands/do", "fresh", { qos: 1 });
  await again.box.waitFor((m) => m.payload === "fresh");
  assert.deepEqual(again.box.messages.map((m) => m.payload), ["fresh"]);
  const w = track(await connect(g, issueDirect(g.gw.deps, "cli-witness"), "cli-witness"));
  await w.publishAsync("devices/cli-witness/state", "on", { qos: 1, retain: true });
  const seen = await retainedSeen("cli-witness");
  assert.deepEqual(seen.filter((t) => t.startsWith("devices/cli-sess/")), []);
});

test("a persistent session never stores a filter refused with 0x80, and nothing is queued for it", async () => {
  const dev = issueDirect(g.gw.deps, "ps-deny");
  const s1 = await connectSession(dev, "ps-deny");
  // One packet mixing a granted filter with refused ones: aedes stores the packet's whole list.
  const denied = ["devices/+/telemetry", "devices/ps-other/commands/#", "#", "devices/ps-deny/telemetry"];
  assert.deepEqual(await granted(s1.client, ["devices/ps-deny/commands/#", ...denied]), [1, 128, 128, 128, 128]);
  await s1.client.endAsync();

  // While it is away, another device publishes on a topic only a refused filter matches.
  const before = await forwardDenials();
  const pub = track(await connect(g, issueDirect(g.gw.deps, "ps-other"), "ps-other"));
  for (let i = 0; i < 5; i++) await pub.publishAsync("devices/ps-other/telemetry", `t${i}`, { qos: 1 });
  const svc = track(await connect(g, issueDirect(g.gw.deps, "svc-ps", { role: "service" }), "svc-ps"));
  await svc.publishAsync("devices/ps-deny/commands/x", "mine", { qos: 1 });

  const s2 = await connectSession(dev, "ps-deny");
  assert.equal(s2.sessionPresent, true);
  await s2.box.waitFor((m) => m.payload === "mine");
  // A round trip after the queue was flushed: anything queued for a refused filter would have been offered (and refused) by now.
  await svc.publishAsync("devices/ps-deny/commands/x", "after", { qos: 1 });
  await s2.box.waitFor((m) => m.payload === "after");
  assert.deepEqual(s2.box.messages.map((m) => m.payload), ["mine", "after"]);
  assert.equal(await forwardDenials(), before, "no message was queued for a refused filter");

  // Dropping the one granted filter leaves no stored subscription: the next session is not present.
  await s2.client.unsubscribeAsync("devices/ps-deny/commands/#");
  await s2.client.endAsync();
  const s3 = await connectSession(dev, "ps-deny");
  assert.equal(s3.sessionPresent, false, "no refused filter was stored");
  await s3.client.endAsync();
});

test("the subscription cap counts what a persistent session holds, across reconnects", async () => {
  const dev = issueDirect(g.gw.deps, "ps-cap");
  const mine = ["a", "b", "c", "d", "e"].map((x) => `devices/ps-cap/commands/${x}`);
  const s1 = await connectSession(dev, "ps-cap");
  assert.deepEqual(await granted(s1.client, mine), [1, 1, 1, 1, 1]);
  assert.deepEqual(await granted(s1.client, ["devices/ps-cap/commands/f"]), [128], "the 6th filter is over the cap of 5");
  // A packet re-subscribing a held filter together with new ones: only the held one is granted.
  assert.deepEqual(await granted(s1.client, ["devices/ps-cap/commands/a", "devices/ps-cap/commands/g", "devices/ps-cap/commands/h"]), [1, 128, 128]);
  await s1.client.endAsync();

  const s2 = await connectSession(dev, "ps-cap");
  assert.equal(s2.sessionPresent, true);
  assert.deepEqual(await granted(s2.client, ["devices/ps-cap/commands/f"]), [128], "restored filters count against the cap");
  // Delivery proves which filters are live: g and h were refused and must not match.
  const svc = track(await connect(g, issueDirect(g.gw.deps, "svc-cap", { role: "service" }), "svc-cap"));
  for (const x of ["g", "h", "f", "e"]) await svc.publishAsync(`devices/ps-cap/commands/${x}`, x, { qos: 1 });
  await s2.box.waitFor((m) => m.payload === "e");
  assert.deepEqual(s2.box.messages.map((m) => m.payload), ["e"]);
  // Unsubscribing the 5 granted filters leaves nothing stored.
  await s2.client.unsubscribeAsync(mine);
  await s2.client.endAsync();
  const s3 = await connectSession(dev, "ps-cap");
  assert.equal(s3.sessionPresent, false, "refused filters were never stored");
  // And the freed room can be used again.
  assert.deepEqual(await granted(s3.client, ["devices/ps-cap/commands/f"]), [1]);
  await s3.client.endAsync();
});
