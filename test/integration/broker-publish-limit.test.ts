/**
 * The per-client publish limit never loses an acknowledged message: QoS 1 over
 * the rate is slowed down (its PUBACK held), QoS 0 over the rate is dropped and
 * counted, and a client that stays over the rate is disconnected. Also: every
 * ACL and limit log line names the identity.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect } from "../../testkit/certs.js";
import { closed, connect, granted, inbox, until } from "./broker-helpers.js";

const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function gateway(extra: Record<string, string>): Promise<TestGateway> {
  const g = await startTestGateway(extra);
  cleanups.push(() => g.close());
  return g;
}
async function client(g: TestGateway, name: string, role: "device" | "service" | "admin" = "device", clientId = name): Promise<MqttClient> {
  const c = await connect(g, issueDirect(g.gw.deps, name, { role }), clientId);
  cleanups.push(() => void c.end(true));
  return c;
}
async function metric(g: TestGateway, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.gw.metricsPort}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? 0);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Publishes `count` QoS 1 messages, one every `everyMs`, without waiting for PUBACKs; resolves with the payloads acknowledged. */
function pace(c: MqttClient, topic: string, count: number, everyMs: number, qos: 0 | 1 = 1): Promise<{ acked: string[]; errors: number }> {
  return new Promise((resolve) => {
    const acked: string[] = [];
    let settled = 0;
    let errors = 0;
    let sent = 0;
    const timer = setInterval(() => {
      if (sent === count || !c.connected) {
        clearInterval(timer);
        if (!c.connected) resolve({ acked, errors });
        return;
      }
      const payload = `m${sent++}`;
      c.publish(topic, payload, { qos }, (err) => {
        if (err) errors++;
        else acked.push(payload);
        if (++settled === count) resolve({ acked, errors });
      });
    }, everyMs);
    c.once("close", () => {
      clearInterval(timer);
      resolve({ acked, errors });
    });
  });
}

test("QoS 1 at twice the rate: every PUBACKed message is delivered, and the rate is held near the limit", async () => {
  const g = await gateway({ "publish-rate": "20", "publish-burst": "20", "publish-abuse-seconds": "60" });
  const svc = await client(g, "svc-lim", "service");
  const box = inbox(svc);
  await granted(svc, ["devices/+/telemetry"]);
  const dev = await client(g, "lim-1");
  const N = 120;
  const t0 = Date.now();
  const { acked, errors } = await pace(dev, "devices/lim-1/telemetry", N, 25); // 40/s against 20/s
  const elapsed = Date.now() - t0;
  assert.equal(errors, 0);
  assert.equal(acked.length, N, "every publish was acknowledged: none refused, none dropped");
  await until(() => box.messages.length >= N, 30_000, `${N} deliveries`);
  await sleep(200);
  assert.deepEqual(box.messages.map((m) => m.payload).sort(), [...acked].sort(), "exactly the acknowledged messages were delivered, once each");
  // Burst 20, then 20/s: the last of 120 cannot be acknowledged before (120 - 20) / 20 = 5 s.
  assert.ok(elapsed >= 4500, `120 publishes were acknowledged in ${elapsed} ms: the rate was not enforced`);
  assert.ok((await metric(g, /^gateway_mqtt_publish_throttled_total (\d+)/m)) > 0);
  assert.equal(await metric(g, /^gateway_mqtt_messages_dropped_total\{reason="rate_limit"\} (\d+)/m), 0, "no QoS 1 message was dropped");
  assert.ok(dev.connected, "a client slowed down is not disconnected before --publish-abuse-seconds");
  const line = g.logs.lines().find((l) => l.code === "FG_MQTT_PUBLISH_RATE");
  assert.ok(line, "throttling is logged");
  assert.equal(line.deviceId, "lim-1");
  assert.equal(typeof line.serial, "string");

  // QoS 0 over the rate is dropped, and each drop is counted.
  const dev0 = await client(g, "lim-0");
  const before = box.messages.length;
  for (let i = 0; i < 100; i++) dev0.publish("devices/lim-0/telemetry", `q0-${i}`, { qos: 0 });
  await dev0.publishAsync("devices/lim-0/telemetry", "marker", { qos: 1 });
  await box.waitFor((m) => m.payload === "marker");
  await sleep(200);
  const got0 = box.messages.slice(before).filter((m) => m.payload.startsWith("q0-")).length;
  assert.ok(got0 < 100 && got0 >= 20, `${got0} of 100 QoS 0 publishes got through a bucket of 20`);
  assert.equal(await metric(g, /^gateway_mqtt_messages_dropped_total\{reason="rate_limit"\} (\d+)/m), 100 - got0, "every QoS 0 drop is counted");
});

test("backpressure: the broker stops reading from a client over its rate instead of buffering what it sends", async () => {
  const g = await gateway({ "publish-rate": "2", "publish-burst": "1", "publish-abuse-seconds": "3600", "log-level": "info" });
  const dev = await client(g, "bp-1");
  const payload = Buffer.alloc(200, 0x61);
  let queued = 0;
  let stop = false;
  const pump = () => {
    for (let i = 0; i < 200 && !stop; i++, queued++) dev.publish("devices/bp-1/telemetry", payload, { qos: 1 });
    if (!stop && queued < 20_000) setImmediate(pump);
  };
  pump();
  await until(() => queued >= 5000, 30_000, "the client queued 5000 publishes");
  await sleep(1500);
  stop = true;
  const held = await metric(g, /^gateway_mqtt_publish_throttled_total (\d+)/m);
  const accepted = await metric(g, /^gateway_mqtt_messages_in_total (\d+)/m);
  const dropped = await metric(g, /^gateway_mqtt_messages_dropped_total\{reason="rate_limit"\} (\d+)/m);
  assert.equal(dropped, 0, "no QoS 1 publish was dropped");
  assert.ok(held > 0, "publishes over the rate were held");
  // One socket read's worth (about 16 KiB, some 70 of these packets) is parsed and held; the rest waits in TCP.
  assert.ok(held + accepted < 1000, `${held + accepted} of ${queued} publishes were read while the client was over its rate`);
  assert.ok(dev.connected);
});

test("a client that stays over the rate is disconnected, and what it was acknowledged was still delivered", async () => {
  const g = await gateway({ "publish-rate": "20", "publish-burst": "20", "publish-abuse-seconds": "2" });
  const svc = await client(g, "svc-abuse", "service");
  const box = inbox(svc);
  await granted(svc, ["devices/+/telemetry"]);
  const dev = await client(g, "abuser");
  const gone = closed(dev, 30_000);
  const { acked } = await pace(dev, "devices/abuser/telemetry", 2000, 10); // 100/s against 20/s
  await gone;
  assert.ok(acked.length < 2000, "the abusive client was cut off");
  assert.ok(g.logs.lines().some((l) => l.code === "FG_MQTT_PUBLISH_RATE" && /disconnecting/.test(String(l.msg)) && l.deviceId === "abuser"));
  await until(() => acked.every((p) => box.messages.some((m) => m.payload === p)), 20_000, "every acknowledged message delivered");
});

test("ACL and limit log lines name the identity: deviceId for a device, name and role for a service or admin", async () => {
  const g = await gateway({});
  const svc = await client(g, "backend", "service", "backend-7");
  await svc.publishAsync("devices/d1/telemetry", "forged", { qos: 1 }); // services publish only commands
  const adm = await client(g, "ops", "admin");
  assert.deepEqual(await granted(adm, ["not-devices/#"]), [128]);
  const dev = await client(g, "d1");
  await dev.publishAsync("devices/d2/telemetry", "x", { qos: 1 });
  const lines = () => g.logs.lines();
  const svcDrop = await until(() => lines().find((l) => l.code === "FG_ACL_PUBLISH_DENIED" && l.name === "backend"), 10_000, "service drop logged");
  assert.equal(svcDrop.role, "service");
  assert.equal(svcDrop.clientId, "backend-7");
  assert.equal(svcDrop.topic, "devices/d1/telemetry");
  assert.equal(typeof svcDrop.serial, "string");
  const admDeny = await until(() => lines().find((l) => l.code === "FG_ACL_SUBSCRIBE_DENIED" && l.name === "ops"), 10_000, "admin subscribe denial logged");
  assert.equal(admDeny.role, "admin");
  assert.equal(typeof admDeny.serial, "string");
  const devDrop = await until(() => lines().find((l) => l.code === "FG_ACL_PUBLISH_DENIED" && l.deviceId === "d1"), 10_000, "device drop logged");
  assert.equal(typeof devDrop.serial, "string");
  assert.equal(devDrop.role, undefined);
});
