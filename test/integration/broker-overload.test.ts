import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import path from "node:path";
import { spawn } from "node:child_process";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, type Credential } from "../../testkit/certs.js";
import { attempt, closed, connect, granted, inbox, logged, until } from "./broker-helpers.js";

/** Workers still running when a test ends (failed or not) are stopped. */
const after: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of after.splice(0)) await stop();
});

const WORKER = path.join(path.dirname(new URL(import.meta.url).pathname), "broker-flood-worker.js");

interface Flood { lines: Record<string, number>[]; exited: Promise<number | null>; alive(): boolean; stop(): Promise<Record<string, number>> }

/** Runs the flood worker as its own process (own event loop, like real devices). */
async function startFlood(g: TestGateway, ids: string[], o: { seconds: number; qos: 0 | 1 }): Promise<Flood> {
  const clients = ids.map((id) => {
    const c = issueDirect(g.gw.deps, id);
    return { id, cert: c.certPem, key: c.keyPem };
  });
  const child = spawn(process.execPath, [WORKER], { stdio: ["pipe", "pipe", "inherit"] });
  child.stdin!.end(JSON.stringify({ url: g.mqttUrl, ca: g.caPem, clients, seconds: o.seconds, qos: o.qos, payloadBytes: 64 }));
  const lines: Record<string, number>[] = [];
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, number>);
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  await until(() => lines.some((l) => l.connected === ids.length), 60_000, "flood clients connected");
  return {
    lines, exited,
    alive: () => child.exitCode === null,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      return lines.find((l) => "sent" in l)!;
    },
  };
}

async function metric(g: TestGateway, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.gw.metricsPort}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? 0);
}

/** A fresh device connects, publishes QoS 1 and a fresh service receives it. */
async function roundTrip(g: TestGateway, name: string): Promise<void> {
  const s = await connect(g, issueDirect(g.gw.deps, `svc-${name}`, { role: "service" }), `svc-${name}`);
  const box = inbox(s);
  await granted(s, [`devices/${name}/#`]);
  const dev = await connect(g, issueDirect(g.gw.deps, name), name);
  await dev.publishAsync(`devices/${name}/telemetry`, "alive", { qos: 1 });
  await box.waitFor((m) => m.topic === `devices/${name}/telemetry`, 30_000);
  dev.end(true);
  s.end(true);
}

test("flood: 50 devices publish QoS 0 flat out to one wildcard subscriber; the broker survives and admits new devices", async () => {
  // Per-client rate limits off, so the whole flood reaches the router (the limit is tested below).
  const g = await startTestGateway({ "publish-rate": "1000000", "publish-burst": "1000000", "log-level": "info" });
  try {
    const sub = await connect(g, issueDirect(g.gw.deps, "svc-wild", { role: "service" }), "svc-wild");
    let received = 0;
    sub.on("message", () => received++);
    await granted(sub, ["devices/+/telemetry"], 0);
    const flood = await startFlood(g, Array.from({ length: 50 }, (_, i) => `f${i}`), { seconds: 60, qos: 0 });
    after.push(flood.stop);
    await until(() => received > 1000, 30_000, "wildcard subscriber receiving the flood");
    // The subscriber going away mid-flood leaves the backlog with no listener: what
    // crashed plain aedes with "Maximum call stack size exceeded".
    sub.end(true);
    await new Promise((r) => setTimeout(r, 1000));
    await roundTrip(g, "fresh");
    assert.ok(flood.alive(), "the fresh device got through while the flood was still running");
    const stats = await flood.stop();
    assert.ok(stats.sent > 10_000, `flood sent ${stats.sent}`);
    assert.equal(stats.disconnected, 0, "no flooding client was dropped: the rate limit was off");
    await roundTrip(g, "after");
    assert.ok((await metric(g, /^gateway_mqtt_messages_in_total (\d+)/m)) > 10_000);
  } finally {
    await g.close();
  }
});

test("publish rate limit: excess is dropped, persistent excess disconnects, other devices are unaffected", async () => {
  const g = await startTestGateway({ "publish-rate": "20", "publish-burst": "20", "publish-abuse-seconds": "1" });
  try {
    const flood = await startFlood(g, ["r1", "r2"], { seconds: 20, qos: 0 });
    after.push(flood.stop);
    // Judged on the gateway's side: both flooding sessions were closed for abuse.
    const abusers = () => new Set(logged(g, "FG_MQTT_PUBLISH_RATE").filter((l) => /disconnecting/.test(String(l.msg))).map((l) => l.serial));
    await until(() => abusers().size === 2, 20_000, "both abusive clients disconnected");
    const connections = () => metric(g, /^gateway_mqtt_connections (\d+)/m);
    for (let i = 0; i < 200 && (await connections()) !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await connections(), 0, "the gateway closed both sessions");
    const stats = await flood.stop();
    assert.ok(stats.sent > 0);
    assert.ok((await metric(g, /^gateway_mqtt_messages_dropped_total\{reason="rate_limit"\} (\d+)/m)) > 0);
    assert.ok(logged(g, "FG_MQTT_PUBLISH_RATE").some((l) => l.msg === "publish dropped"), "drops are logged (rate-limited)");
    await roundTrip(g, "calm");
  } finally {
    await g.close();
  }
});

/** A raw TLS connection with a device certificate, for bytes no MQTT client would send. */
function raw(g: TestGateway, c: Credential): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port: g.gw.mqttsPort, ca: g.caPem, cert: c.certPem, key: c.keyPem }, () => resolve(s));
    s.on("error", reject);
  });
}

const socketClosed = (s: tls.TLSSocket) => new Promise<void>((r) => (s.destroyed ? r() : s.once("close", () => r())));
// CONNECT, MQTT 3.1.1, clean session, keepalive 60, clientId "dm".
const CONNECT = Buffer.from([0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x02, 0x64, 0x6d]);

test("malformed bytes after the TLS handshake close that connection and nothing else", async () => {
  const g = await startTestGateway();
  try {
    const dm = issueDirect(g.gw.deps, "dm");
    const bystander = await connect(g, issueDirect(g.gw.deps, "by"), "by");
    const cases: [string, Buffer[]][] = [
      ["garbage instead of CONNECT", [Buffer.from([0x00, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff])]],
      ["PUBLISH before CONNECT [MQTT-3.1.0-1]", [Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x62, 0x63])]],
      ["reserved flags in CONNECT [MQTT-2.2.2-2]", [Buffer.from([0x1f, 0x00])]],
      ["a declared 256 MiB packet", [Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f, 0x00])]],
      ["garbage after a valid CONNECT", [CONNECT, Buffer.from([0xf0, 0x00, 0xde, 0xad, 0xbe, 0xef])]],
      ["a second CONNECT [MQTT-3.1.0-2]", [CONNECT, CONNECT]],
      ["a truncated remaining length", [CONNECT, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0xff])]],
    ];
    for (const [name, chunks] of cases) {
      const s = await raw(g, dm);
      s.on("error", () => {});
      s.on("data", () => {});
      for (const c of chunks) s.write(c);
      await Promise.race([socketClosed(s), new Promise((_, rej) => setTimeout(() => rej(new Error(`${name}: connection left open`)), 15_000))]);
    }
    assert.ok(logged(g, "FG_MQTT_PACKET_TOO_LARGE").some((l) => l.length === 268_435_455));
    // An MQTT.js client sending a packet over --max-packet-bytes (default 128 KiB) is closed too.
    const big = await connect(g, issueDirect(g.gw.deps, "big"), "big");
    const bigClosed = closed(big, 15_000);
    big.publish("devices/big/blob", Buffer.alloc(200 * 1024), { qos: 0 });
    await bigClosed;
    big.end(true);
    assert.ok(bystander.connected, "other sessions are unaffected");
    await roundTrip(g, "still-up");
    bystander.end(true);
  } finally {
    await g.close();
  }
});

test("connection rate limit: connections over --connect-rate are closed before TLS; service resumes", async () => {
  const g = await startTestGateway({ "connect-rate": "2" });
  try {
    const c = issueDirect(g.gw.deps, "cr");
    const results = await Promise.all(Array.from({ length: 8 }, () => attempt(g, c, "cr")));
    for (const r of results) if (r.kind === "connack") r.client.end(true);
    assert.ok(results.some((r) => r.kind !== "connack"), "some connections were refused");
    assert.ok((await metric(g, /^gateway_mqtt_connects_total\{result="FG_MQTT_CONNECT_RATE"\} (\d+)/m)) > 0);
    const later = await (async () => {
      for (let i = 0; i < 20; i++) {
        const r = await attempt(g, c, "cr");
        if (r.kind === "connack" && r.code === 0) return r;
        await new Promise((res) => setTimeout(res, 500));
      }
      return undefined;
    })();
    assert.ok(later, "connections are admitted again once the bucket refills");
    if (later?.kind === "connack") later.client.end(true);
  } finally {
    await g.close();
  }
});
