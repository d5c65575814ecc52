import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import mqtt, { type MqttClient } from "mqtt";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, type Credential } from "../../testkit/certs.js";
import { attempt, connect, granted, inbox, opts } from "./broker-helpers.js";

let g: TestGateway;
let dev: Credential, svc: Credential;
const open: MqttClient[] = [];
const track = (c: MqttClient) => (open.push(c), c);

before(async () => {
  g = await startTestGateway();
  dev = issueDirect(g.gw.deps, "sleepy");
  svc = issueDirect(g.gw.deps, "svc", { role: "service" });
});

after(async () => {
  for (const c of open) c.end(true);
  await g.close();
});

test("a device offline with a persistent session gets its QoS 1 commands, in order, when it comes back", async () => {
  // First visit: a persistent session (clean session 0) with a QoS 1 subscription to its commands.
  const first = track(await connect(g, dev, "sleepy", { clean: false }));
  assert.deepEqual(await granted(first, ["devices/sleepy/commands/#"]), [1]);
  await first.endAsync();

  const s = track(await connect(g, svc, "svc-cmd"));
  for (const n of [1, 2, 3]) await s.publishAsync(`devices/sleepy/commands/step`, `cmd-${n}`, { qos: 1 });

  // Back again: the broker says the session is present and delivers what was queued ([MQTT-3.1.2-5]).
  const back = track(mqtt.connect(g.mqttUrl, opts(g, dev, "sleepy", { clean: false })));
  const box = inbox(back);
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    back.once("connect", resolve);
    back.once("error", reject);
  });
  assert.equal(connack.sessionPresent, true);
  await box.waitFor((m) => m.payload === "cmd-3");
  assert.deepEqual(box.messages.map((m) => m.payload), ["cmd-1", "cmd-2", "cmd-3"]);
  await back.endAsync();
});

test("a clean session (the default) starts empty: nothing queued while away is delivered", async () => {
  const first = track(await connect(g, dev, "sleepy", { clean: false }));
  await granted(first, ["devices/sleepy/commands/#"]);
  await first.endAsync();
  const s = track(await connect(g, svc, "svc-cmd2"));
  await s.publishAsync("devices/sleepy/commands/step", "stale", { qos: 1 });
  const fresh = await attempt(g, dev, "sleepy", { clean: true });
  assert.equal(fresh.kind === "connack" && fresh.code, 0);
  const c = (fresh as { client: MqttClient }).client;
  track(c);
  const box = inbox(c);
  // Prove the path is live, then check nothing stale arrived before it.
  await granted(c, ["devices/sleepy/commands/#"]);
  await s.publishAsync("devices/sleepy/commands/step", "new", { qos: 1 });
  await box.waitFor((m) => m.payload === "new");
  assert.deepEqual(box.messages.map((m) => m.payload), ["new"]);
});
