/**
 * The connection owner's behaviours that only show under load or with one of
 * the two revocation paths alone: the in-process revocation event (without the
 * log follower), dropping to a slow subscriber, and QoS 0 shedding while the
 * router backlog is over its bound. Each test fails when its behaviour breaks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { startTestGateway, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, type Credential } from "../../testkit/certs.js";
import { revokeDevice } from "../../enroll/fleet.js";
import { attempt, closed, connect, granted, inbox, logged } from "./broker-helpers.js";

async function metric(g: TestGateway, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.gw.metricsPort}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? 0);
}

const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
/** One MQTT packet: fixed header (type byte, remaining length, §2.2.3) and body. */
function packet(type: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const len: number[] = [];
  let n = body.length;
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    len.push(d);
  } while (n > 0);
  return Buffer.concat([Buffer.from([type, ...len]), body]);
}

/**
 * A subscriber that stops reading its socket once SUBACK arrived: hand-written
 * CONNECT and SUBSCRIBE (QoS 0) over TLS, then the socket is paused, so the
 * gateway's writes to it pile up in the kernel buffers and then its own.
 */
function stalledSubscriber(g: TestGateway, c: Credential, clientId: string, filter: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port: g.gw.mqttsPort, ca: g.caPem, cert: c.certPem, key: c.keyPem }, () => {
      s.write(packet(0x10, str("MQTT"), Buffer.from([4, 0x02, 0, 60]), str(clientId)));
      s.write(packet(0x82, Buffer.from([0, 1]), str(filter), Buffer.from([0])));
    });
    let seen = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      seen = Buffer.concat([seen, d]);
      // CONNACK 0 then SUBACK for packet id 1 granting QoS 0.
      if (seen.includes(Buffer.from([0x90, 0x03, 0x00, 0x01, 0x00]))) {
        s.off("data", onData);
        s.pause();
        resolve(s);
      } else if (seen.includes(Buffer.from([0x90, 0x03, 0x00, 0x01, 0x80]))) reject(new Error("subscription refused"));
    };
    s.on("data", onData);
    s.on("error", reject);
  });
}

/** Polls an async condition; rejects after `ms` (a test timeout, not a timing assertion). */
async function poll(fn: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const LARGE = Buffer.alloc(16 * 1024, 0x61);

test("a device revoked in this process is disconnected within 1 s by the revocation event alone (log follower idle)", async () => {
  // The log follower reads once an hour here: only the in-process event can close the session.
  const g = await startTestGateway({}, tmpDir(), { revocationPollMs: 3_600_000 });
  try {
    const c = issueDirect(g.gw.deps, "ev-only");
    const client = await connect(g, c, "ev-only");
    const closedAt = closed(client, 5000);
    const t0 = Date.now();
    revokeDevice(g.gw.deps, "ev-only", "keyCompromise", "test");
    const lag = (await closedAt) - t0;
    assert.ok(lag <= 1000, `disconnected ${lag} ms after the revocation (README "MQTT": within 1 s)`);
    const lines = logged(g, "FG_DEVICE_REVOKED").filter((l) => l.deviceId === "ev-only" && l.msg === "closing revoked MQTT session");
    assert.deepEqual(lines.map((l) => l.source), ["event"], "closed by the event, not the log");
    // The standing cache was told as well: the same certificate cannot come back.
    const again = await attempt(g, c, "ev-only");
    assert.deepEqual(again.kind === "connack" ? again.code : again.kind, 5);
  } finally {
    await g.close();
  }
});

test("a subscriber that stops reading gets messages dropped (slow_consumer) while another subscriber keeps receiving", async () => {
  const g = await startTestGateway({ "max-inflight": "20", "publish-rate": "1000000", "publish-burst": "1000000" });
  let slow: tls.TLSSocket | undefined;
  try {
    slow = await stalledSubscriber(g, issueDirect(g.gw.deps, "svc-slow", { role: "service" }), "svc-slow", "devices/+/telemetry");
    const fast = await connect(g, issueDirect(g.gw.deps, "svc-fast", { role: "service" }), "svc-fast");
    const box = inbox(fast);
    await granted(fast, ["devices/+/telemetry"], 0);
    const dev = await connect(g, issueDirect(g.gw.deps, "talker"), "talker");
    const dropped = () => metric(g, /^gateway_mqtt_messages_dropped_total\{reason="slow_consumer"\} (\d+)/m);
    // 16 KiB messages until the stalled socket's buffers are full and drops begin (bounded: 128 MiB).
    for (let i = 0; i < 8192 && (i % 256 !== 0 || (await dropped()) === 0); i++) {
      await dev.publishAsync("devices/talker/telemetry", LARGE, { qos: 0 });
    }
    assert.ok((await dropped()) > 0, "messages to the stalled subscriber were dropped and counted");
    assert.ok(logged(g, "FG_MQTT_SLOW_CONSUMER").some((l) => l.name === "svc-slow" || l.clientId === "svc-slow"), "the drop is logged with the consumer");
    // Delivery to everybody else goes on.
    await dev.publishAsync("devices/talker/telemetry", "marker", { qos: 1 });
    await box.waitFor((m) => m.payload === "marker", 30_000);
    assert.ok(slow.readableLength >= 0 && !slow.destroyed, "the stalled subscriber is still connected (aedes' drain timeout has not passed)");
    dev.end(true);
    fast.end(true);
  } finally {
    slow?.destroy();
    await g.close();
  }
});

test("client QoS 0 publishes are shed and counted while the router backlog is over its bound; QoS 1 is not", async () => {
  // A stalled subscriber with a large --max-inflight holds every router slot (100), so
  // messages queue in the router; past the bound (lowered for the test) QoS 0 is shed.
  const g = await startTestGateway({ "publish-rate": "1000000", "publish-burst": "1000000" }, tmpDir(), { maxRoutingBacklog: 50 });
  let slow: tls.TLSSocket | undefined;
  try {
    slow = await stalledSubscriber(g, issueDirect(g.gw.deps, "svc-stall", { role: "service" }), "svc-stall", "devices/+/telemetry");
    const watcher = await connect(g, issueDirect(g.gw.deps, "svc-watch", { role: "service" }), "svc-watch");
    const box = inbox(watcher);
    await granted(watcher, ["devices/+/telemetry"], 1);
    const dev = await connect(g, issueDirect(g.gw.deps, "shed-dev"), "shed-dev");
    const shed = () => metric(g, /^gateway_mqtt_messages_dropped_total\{reason="overload"\} (\d+)/m);
    for (let round = 0; round < 4096 && (await shed()) === 0; round++) {
      // Large messages fill the stalled socket until the router stalls; bursts of small
      // ones (hundreds per read chunk) then queue in the router past its bound.
      await dev.publishAsync("devices/shed-dev/telemetry", LARGE, { qos: 0 });
      for (let i = 0; i < 200; i++) dev.publish("devices/shed-dev/telemetry", "x", { qos: 0 });
    }
    assert.ok((await shed()) > 0, "QoS 0 publishes were shed and counted");
    assert.ok(logged(g, "FG_MQTT_OVERLOADED").length > 0, "shedding is logged");
    // QoS 1 is never shed: it waits; once the stalled subscriber is gone it is delivered.
    const q1 = dev.publishAsync("devices/shed-dev/telemetry", "q1", { qos: 1 });
    slow.destroy();
    await box.waitFor((m) => m.payload === "q1", 60_000);
    await q1;
    watcher.end(true);
    dev.end(true);
  } finally {
    slow?.destroy();
    await g.close();
  }
});

test("the connection gauge counts live sessions only and returns to exactly 0 (refused, revoked, hung up, taken over, closed)", async () => {
  const g = await startTestGateway();
  try {
    const gauge = () => metric(g, /^gateway_mqtt_connections (-?\d+)/m);
    const a = await connect(g, issueDirect(g.gw.deps, "gauge-a"), "gauge-a");
    const bCred = issueDirect(g.gw.deps, "gauge-b");
    const b = await connect(g, bCred, "gauge-b");
    const s = await connect(g, issueDirect(g.gw.deps, "svc-gauge", { role: "service" }), "svc-gauge-1");
    assert.equal(await gauge(), 3);
    // Refused at CONNECT (a device may only use its own id): never counted.
    const refused = await attempt(g, bCred, "someone-else");
    assert.notDeepEqual(refused.kind === "connack" ? refused.code : refused.kind, 0);
    // The same device connecting again replaces its session [MQTT-3.1.4-2]: still one.
    const bClosed = closed(b, 10_000);
    const b2 = await connect(g, bCred, "gauge-b");
    await bClosed;
    await poll(async () => (await gauge()) === 3, "gauge at 3 after the takeover");
    // Revoked, hung up without DISCONNECT, closed normally.
    const aClosed = closed(a, 10_000);
    revokeDevice(g.gw.deps, "gauge-a", "keyCompromise", "test");
    await aClosed;
    (b2.stream as tls.TLSSocket).destroy();
    await s.endAsync();
    let last = -1;
    await poll(async () => (last = await gauge()) === 0, "gauge back at 0");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await gauge(), 0, `gauge stays at 0 (was ${last})`);
    b2.end(true);
  } finally {
    await g.close();
  }
});
