import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import tls from "node:tls";
import https from "node:https";
import type { IClientOptions } from "mqtt";
import { startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, type Credential } from "../../testkit/certs.js";
import { attempt } from "./broker-helpers.js";

/**
 * The front door (issue 11 point 7): connections that do not finish TLS (or, on
 * MQTT, CONNECT) are closed at a deadline, pending connections are capped per
 * source address and in total, and the MQTT connect rate is per address under a
 * global ceiling. All tests come from 127.0.0.0/8: Linux routes every loopback
 * address to lo, so binding a client to 127.0.0.2 gives a second source.
 */

interface Stall { readonly socket: net.Socket; readonly closed: Promise<void>; isClosed(): boolean }

/** A TCP connection that sends nothing (or what the caller writes); resolves once connected. */
function stall(port: number, localAddress = "127.0.0.1"): Promise<Stall> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress });
    let isClosed = false;
    const closed = new Promise<void>((r) => socket.once("close", () => {
      isClosed = true;
      r();
    }));
    socket.on("error", () => { /* a reset by the server is an expected close */ });
    socket.once("connect", () => resolve({ socket, closed, isClosed: () => isClosed }));
    socket.once("close", () => reject(new Error("closed before connecting")));
  });
}

/** Resolves when `p` settles; rejects after `ms` (a test bound, not a timing assertion). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); }),
  ]);
}

async function metrics(g: TestGateway): Promise<string> {
  return (await fetch(`http://127.0.0.1:${g.gw.metricsPort}/metrics`)).text();
}

async function metric(g: TestGateway, name: string, labels: string): Promise<number> {
  const line = (await metrics(g)).split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(" ").pop()) : 0;
}

async function waitMetric(g: TestGateway, name: string, labels: string, pred: (v: number) => boolean, ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await metric(g, name, labels);
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(`${name}{${labels}} = ${v} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const from = (localAddress: string) => ({ localAddress } as IClientOptions);

/** GET with the admin credential from a given source address; resolves with the status. */
function adminGet(g: TestGateway, path: string, localAddress: string): Promise<number> {
  const admin = { cert: fs.readFileSync(g.paths.adminCert, "utf8"), key: fs.readFileSync(g.paths.adminKey, "utf8") };
  return new Promise((resolve, reject) => {
    const req = https.request(`${g.estUrl}${path}`, { ca: g.caPem, ...admin, agent: false, servername: "localhost", localAddress }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

async function mqttOk(g: TestGateway, c: Credential, id: string, localAddress: string): Promise<void> {
  const r = await attempt(g, c, id, from(localAddress));
  assert.equal(r.kind === "connack" ? r.code : r.kind, 0, `mTLS client from ${localAddress}: ${JSON.stringify(r.kind === "error" ? r.message : r.kind)}`);
  if (r.kind === "connack") await r.client.endAsync();
}

test("connections that never send a ClientHello are closed on both listeners at the handshake timeout", async () => {
  const g = await startTestGateway({ "handshake-timeout-ms": "500" });
  const stalls: Stall[] = [];
  try {
    stalls.push(...await Promise.all([
      ...Array.from({ length: 10 }, () => stall(g.gw.mqttsPort)),
      ...Array.from({ length: 10 }, () => stall(g.gw.httpsPort)),
    ]));
    // Generous bound: 500 ms configured; before the fix MQTT held them forever and HTTPS for ~120 s.
    await within(Promise.all(stalls.map((s) => s.closed)), 15_000, "stalled sockets closed by the server");
    assert.ok((await metric(g, "gateway_handshake_timeouts_total", 'listener="mqtts",stage="tls"')) >= 10);
    assert.ok((await metric(g, "gateway_handshake_timeouts_total", 'listener="https",stage="tls"')) >= 10);
    await waitMetric(g, "gateway_pending_connections", 'listener="mqtts"', (v) => v === 0);
    await waitMetric(g, "gateway_pending_connections", 'listener="https"', (v) => v === 0);
    assert.ok(g.logs.lines().some((l) => l.code === "FG_HANDSHAKE_TIMEOUT"), "the timeout is logged with its code");
    assert.ok(!g.logs.lines().some((l) => l.tlsError === "ERR_TLS_HANDSHAKE_TIMEOUT"), "and reported once, not again as a TLS failure");
  } finally {
    for (const s of stalls) s.socket.destroy();
    await g.close();
  }
});

test("a client trickling its ClientHello a byte at a time is closed at the deadline: its bytes do not extend it", async () => {
  const g = await startTestGateway({ "handshake-timeout-ms": "1000" });
  const timers: NodeJS.Timeout[] = [];
  const stalls: Stall[] = [];
  try {
    stalls.push(...await Promise.all([stall(g.gw.mqttsPort), stall(g.gw.httpsPort)]));
    // A TLS handshake record header announcing 512 bytes, then one byte every 200 ms.
    const bytes = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), Buffer.alloc(506, 0x41)]);
    for (const s of stalls) {
      let i = 0;
      timers.push(setInterval(() => { if (!s.isClosed() && i < bytes.length) s.socket.write(bytes.subarray(i, ++i)); }, 200));
    }
    await within(Promise.all(stalls.map((s) => s.closed)), 15_000, "trickling sockets closed by the server");
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of stalls) s.socket.destroy();
    await g.close();
  }
});

test("MQTT: TLS established but no CONNECT (or half a CONNECT) is closed at the deadline", async () => {
  const g = await startTestGateway({ "handshake-timeout-ms": "500" });
  const opened: tls.TLSSocket[] = [];
  try {
    const c = issueDirect(g.gw.deps, "silent");
    // Resolves with a holder: resolving with the promise itself would wait for it.
    const open = (first?: Buffer) => new Promise<{ closed: Promise<void> }>((resolve, reject) => {
      const s = tls.connect({ port: g.gw.mqttsPort, host: "127.0.0.1", servername: "localhost", ca: g.caPem, cert: c.certPem, key: c.keyPem });
      const closed = new Promise<void>((r) => s.once("close", () => r()));
      opened.push(s);
      s.on("error", () => { /* closed by the server */ });
      s.once("secureConnect", () => {
        if (first) s.write(first);
        resolve({ closed });
      });
      s.once("close", () => reject(new Error("closed before TLS was established")));
    });
    const silent = await open();
    const half = await open(Buffer.from([0x10, 0x20, 0x00, 0x04, 0x4d])); // CONNECT, remaining length 32, then nothing
    // Before the fix only aedes' 10 s connectTimeout applied (and not to a CONNECT that is being received).
    await within(Promise.all([silent.closed, half.closed]), 8_000, "post-TLS stalls closed by the server");
    assert.ok((await metric(g, "gateway_handshake_timeouts_total", 'listener="mqtts",stage="connect"')) >= 1);
    // A real client is unaffected: CONNACK 0 lifts its deadline, and it stays connected well past it.
    const r = await attempt(g, c, "silent");
    assert.equal(r.kind === "connack" ? r.code : r.kind, 0);
    if (r.kind !== "connack") return;
    await new Promise((res) => setTimeout(res, 2500));
    assert.ok(r.client.connected, "an accepted client is not closed by the front-door deadline");
    assert.equal(await metric(g, "gateway_pending_connections", 'listener="mqtts"'), 0);
    await r.client.endAsync();
  } finally {
    for (const s of opened) s.destroy();
    await g.close();
  }
});

test("HTTPS: TLS established but no request is closed at the deadline; a keep-alive client is not", async () => {
  const g = await startTestGateway({ "handshake-timeout-ms": "500" });
  const opened: tls.TLSSocket[] = [];
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const t = tls.connect({ port: g.gw.httpsPort, host: "127.0.0.1", servername: "localhost", ca: g.caPem });
      opened.push(t);
      t.on("error", () => { /* closed by the server */ });
      t.once("secureConnect", () => resolve(t));
      t.once("close", () => reject(new Error("closed before TLS was established")));
    });
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    // Before the fix such a connection was held for fastify's 30 s connection timeout.
    await within(closed, 8_000, "a TLS connection without a request closed by the server");
    assert.ok((await metric(g, "gateway_handshake_timeouts_total", 'listener="https",stage="request"')) >= 1);
    // One keep-alive connection, two requests further apart than the deadline.
    const get = () => new Promise<{ status: number; port: number }>((resolve, reject) => {
      const req = https.request(`${g.estUrl}/.well-known/est/cacerts`, { ca: g.caPem, agent, servername: "localhost" }, (res) => {
        const port = res.socket.localPort ?? 0;
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, port }));
      });
      req.on("error", reject);
      req.end();
    });
    const a = await get();
    await new Promise((r) => setTimeout(r, 1500));
    const b = await get();
    assert.deepEqual([a.status, b.status], [200, 200]);
    assert.equal(a.port, b.port, "the same connection served both requests");
  } finally {
    agent.destroy();
    for (const s of opened) s.destroy();
    await g.close();
  }
});

test("per-address cap: the 21st stalled socket from one address is closed at once; another address still gets in", async () => {
  const g = await startTestGateway({ "handshake-timeout-ms": "60000", "max-pending-per-address": "20", "max-pending-connections": "100" });
  const stalls: Stall[] = [];
  try {
    const c = issueDirect(g.gw.deps, "other-host");
    for (const port of [g.gw.mqttsPort, g.gw.httpsPort]) stalls.push(...await Promise.all(Array.from({ length: 20 }, () => stall(port))));
    await waitMetric(g, "gateway_pending_connections", 'listener="mqtts"', (v) => v === 20);
    await waitMetric(g, "gateway_pending_connections", 'listener="https"', (v) => v === 20);
    const extra = await Promise.all([stall(g.gw.mqttsPort), stall(g.gw.httpsPort)]);
    stalls.push(...extra);
    await within(Promise.all(extra.map((s) => s.closed)), 5_000, "the 21st connection from 127.0.0.1 closed");
    assert.equal(await metric(g, "gateway_connections_refused_total", 'listener="mqtts",reason="pending_source"'), 1);
    assert.equal(await metric(g, "gateway_connections_refused_total", 'listener="https",reason="pending_source"'), 1);
    assert.ok(g.logs.lines().some((l) => l.code === "FG_CONNECTION_LIMIT" && l.listener === "mqtts"));
    // Another address: a real mTLS MQTT client and a real admin HTTPS request.
    await mqttOk(g, c, "other-host", "127.0.0.2");
    assert.equal(await adminGet(g, "/api/v1/devices", "127.0.0.2"), 200);
    // The stalls themselves are held until their deadline, not dropped to make room.
    assert.ok(stalls.every((s) => !s.isClosed() || extra.includes(s)));
    // A place freed on 127.0.0.1 admits it again.
    stalls.shift()!.socket.destroy();
    await waitMetric(g, "gateway_pending_connections", 'listener="mqtts"', (v) => v === 19);
    await mqttOk(g, c, "other-host", "127.0.0.1");
  } finally {
    for (const s of stalls) s.socket.destroy();
    await g.close();
  }
});

test("global cap: pending connections from many addresses at the cap shut out a new address until one leaves", async () => {
  const g = await startTestGateway({ "handshake-timeout-ms": "60000", "max-pending-per-address": "4", "max-pending-connections": "10" });
  const stalls: Stall[] = [];
  try {
    const c = issueDirect(g.gw.deps, "late");
    for (const [addr, n] of [["127.0.0.2", 4], ["127.0.0.3", 4], ["127.0.0.4", 2]] as const) {
      stalls.push(...await Promise.all(Array.from({ length: n }, () => stall(g.gw.mqttsPort, addr))));
    }
    await waitMetric(g, "gateway_pending_connections", 'listener="mqtts"', (v) => v === 10);
    const refused = await stall(g.gw.mqttsPort, "127.0.0.5");
    stalls.push(refused);
    await within(refused.closed, 5_000, "a connection over the global cap closed");
    assert.equal(await metric(g, "gateway_connections_refused_total", 'listener="mqtts",reason="pending_global"'), 1);
    stalls.shift()!.socket.destroy();
    await waitMetric(g, "gateway_pending_connections", 'listener="mqtts"', (v) => v === 9);
    await mqttOk(g, c, "late", "127.0.0.5");
  } finally {
    for (const s of stalls) s.socket.destroy();
    await g.close();
  }
});

test("connect rate is per address: one address flooding connects does not keep a device on another address out", async () => {
  const g = await startTestGateway({ "connect-rate": "50", "connect-rate-per-address": "5" });
  let flooding = true;
  const sockets = new Set<net.Socket>();
  const flood = (async () => {
    while (flooding) {
      for (let i = 0; i < 10; i++) {
        const s = net.connect({ port: g.gw.mqttsPort, host: "127.0.0.1", localAddress: "127.0.0.2" });
        sockets.add(s);
        s.on("error", () => { /* refused */ });
        s.once("close", () => sockets.delete(s));
        setTimeout(() => s.destroy(), 200);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    const c = issueDirect(g.gw.deps, "steady");
    // The flood is well over both the per-address rate and the whole process's 50/s.
    await waitMetric(g, "gateway_connections_refused_total", 'listener="mqtts",reason="rate_source"', (v) => v >= 200, 30_000);
    for (let i = 0; i < 3; i++) await mqttOk(g, c, "steady", "127.0.0.3");
    assert.ok((await metric(g, "gateway_mqtt_connects_total", 'result="FG_MQTT_CONNECT_RATE"')) >= 200);
    assert.ok(g.logs.lines().some((l) => l.code === "FG_MQTT_CONNECT_RATE" && l.reason === "rate_source"));
  } finally {
    flooding = false;
    await flood;
    for (const s of sockets) s.destroy();
    await g.close();
  }
});

test("shutdown closes connections still in their handshake on both listeners, and refuses new ones", async () => {
  const g = await startTestGateway({ "handshake-timeout-ms": "60000" });
  const stalls: Stall[] = [];
  let closed = false;
  try {
    for (const port of [g.gw.mqttsPort, g.gw.httpsPort]) stalls.push(...await Promise.all(Array.from({ length: 5 }, () => stall(port))));
    await waitMetric(g, "gateway_pending_connections", 'listener="https"', (v) => v === 5);
    await waitMetric(g, "gateway_pending_connections", 'listener="mqtts"', (v) => v === 5);
    await within(g.close(), 15_000, "gateway closed with handshakes pending");
    closed = true;
    await within(Promise.all(stalls.map((s) => s.closed)), 5_000, "pending connections closed by the shutdown");
  } finally {
    for (const s of stalls) s.socket.destroy();
    if (!closed) await g.close();
  }
});
