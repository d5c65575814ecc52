/**
 * The measuring phases of bench/vs-mosquitto.ts. Every client is built by the
 * simulator's MqttConnector (device-sim/connector.ts), the same MQTT.js load
 * generator for both brokers.
 */
import tls from "node:tls";
import path from "node:path";
import fs from "node:fs";
import { spawn } from "node:child_process";
import type { MqttClient } from "mqtt";
import * as hdr from "hdr-histogram-js";
import { MqttConnector, type TlsSessionSlot } from "../../device-sim/connector.js";
import { AdminApi } from "../../device-sim/admin-client.js";
import type { PkiPaths } from "../../pki/data-dir-files.js";
import { cpuMicros, rssKiB } from "./proc.js";
import { percentile, pool, sleep } from "./util.js";

export interface Cred { id: string; cert: string; key: string }
export interface Broker { name: string; pid: number; port: number }

const here = path.dirname(new URL(import.meta.url).pathname);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 5000);

const connectorFor = (b: Broker) => new MqttConnector({ host: "127.0.0.1", port: b.port }, { keepaliveS: 600, connectTimeoutMs: 60_000 });

/** The client side forces the TLS version (maxVersion); the server offers 1.2 and 1.3. */
function ctxFor(c: Cred, ca: string, maxVersion: tls.SecureVersion = "TLSv1.3"): tls.SecureContext {
  return tls.createSecureContext({ key: c.key, cert: c.cert, ca, minVersion: "TLSv1.2", maxVersion });
}

function connect(conn: MqttConnector, c: Cred, ctx: tls.SecureContext, slot?: TlsSessionSlot): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const cl = conn.create(c.id, ctx, slot);
    cl.once("connect", () => {
      cl.removeListener("error", reject);
      cl.on("error", () => {}); // a reset while closing is not a failure of the figure
      resolve(cl);
    });
    cl.once("error", reject);
    cl.once("close", () => reject(new Error(`${c.id}: closed before CONNACK`)));
  });
}

const reused = (cl: MqttClient) => (cl as unknown as { stream: tls.TLSSocket }).stream.isSessionReused();

/**
 * Broker CPU per connect-and-disconnect cycle, `n` cycles over `creds` (4 in
 * flight per broker), against every broker AT THE SAME TIME, so both see the
 * same background load on this shared machine. With `resume`, each credential
 * first connects once to get a session, and every measured cycle offers it.
 */
export async function connectCosts(brokers: Broker[], ca: string, creds: Cred[], n: number, maxVersion: tls.SecureVersion, resume: boolean) {
  const ctxs = creds.map((c) => ctxFor(c, ca, maxVersion));
  const state = brokers.map((b) => ({ conn: connectorFor(b), slots: creds.map((): TlsSessionSlot => ({ session: undefined })), resumed: 0, failed: 0, error: "" }));
  if (resume) {
    await Promise.all(state.map((s) => pool(creds.length, 8, async (i) => {
      const cl = await connect(s.conn, creds[i]!, ctxs[i]!, s.slots[i]);
      await sleep(20); // the TLS 1.3 ticket arrives after the handshake
      await cl.endAsync();
    })));
  }
  await sleep(300);
  const cpu0 = brokers.map((b) => cpuMicros(b.pid));
  await Promise.all(state.map((s) => pool(n, 4, async (i) => {
    const k = i % creds.length;
    try {
      const cl = await connect(s.conn, creds[k]!, ctxs[k]!, resume ? s.slots[k] : undefined);
      if (reused(cl)) s.resumed++;
      await cl.endAsync();
    } catch (e) {
      // A refused connect still cost the broker its handshake; counted and reported, not hidden.
      s.failed++;
      s.error = (e as Error).message;
    }
  })));
  await sleep(300);
  return brokers.map((b, i) => ({ cpuUs: (cpuMicros(b.pid) - cpu0[i]!) / n, resumedFraction: state[i]!.resumed / n, failed: state[i]!.failed, error: state[i]!.error }));
}

/**
 * RSS per idle mTLS connection: connect up to each size in turn, let the heap
 * settle, RSS delta from before the first connection / size. `hook` runs with
 * the largest set still connected (the revocation drill); then all close.
 */
export async function idleRss(b: Broker, ca: string, creds: Cred[], sizes: number[], hook?: (conns: MqttClient[]) => Promise<void>): Promise<number[]> {
  const conn = connectorFor(b);
  await sleep(SETTLE_MS);
  const rss0 = rssKiB(b.pid);
  const conns: MqttClient[] = [];
  const out: number[] = [];
  try {
    for (const size of sizes) {
      const from = conns.length;
      const more = await pool(size - from, 32, (i) => connect(conn, creds[from + i]!, ctxFor(creds[from + i]!, ca)));
      conns.push(...more);
      await sleep(SETTLE_MS);
      out.push((rssKiB(b.pid) - rss0) / size);
      process.stderr.write(`  ${b.name}: ${size} idle, RSS ${rssKiB(b.pid)} KiB (was ${rss0})\n`);
    }
    if (hook) await hook(conns);
  } finally {
    await pool(conns.length, 200, (i) => (conns[i]!.connected ? conns[i]!.endAsync() : Promise.resolve()));
  }
  return out;
}

/**
 * Revocation-to-disconnect with `connected` live devices: `k` devices are revoked
 * through the admin API (README "CLI" and "Admin API", admin certificate) one every `spacingMs`
 * (independent revocations, the figure), then `k` more all at once (a burst,
 * which queues behind itself). Each is timed from when its request was written
 * to when that device's socket closed, and to when the API answered. The admin
 * agent's TLS connections are opened first, so no handshake is in the figure.
 */
export async function revokeDrill(baseUrl: string, p: PkiPaths, ca: string, conns: MqttClient[], connected: number, k: number, spacingMs = 20) {
  await pool(conns.length - connected, 200, (i) => conns[connected + i]!.endAsync());
  const live = conns.slice(0, connected);
  let bystandersClosed = 0;
  const victimSet = new Set(live.slice(connected - 2 * k));
  for (const cl of live) if (!victimSet.has(cl)) cl.once("close", () => bystandersClosed++);
  const admin = new AdminApi(baseUrl, { certPem: fs.readFileSync(p.adminCert, "utf8"), keyPem: fs.readFileSync(p.adminKey, "utf8") }, ca, () => performance.now());
  const round = async (victims: MqttClient[], spacing: number) => {
    const closedAt = new Map<MqttClient, number>();
    const waits = victims.map((cl) => new Promise<void>((r) => cl.once("close", () => { closedAt.set(cl, performance.now()); r(); })));
    const replies = await Promise.all(victims.map(async (cl, i) => {
      if (spacing) await sleep(i * spacing);
      const r = await admin.revoke(cl.options.clientId!);
      return { ...r, repliedAt: performance.now() };
    }));
    const bad = replies.filter((r) => r.status !== 200);
    if (bad.length) throw new Error(`revoke: ${bad.length} refused, e.g. ${bad[0]!.status} ${bad[0]!.body}`);
    await Promise.race([Promise.all(waits), sleep(5000)]);
    const lat = victims.map((cl, i) => (closedAt.get(cl) ?? Infinity) - replies[i]!.sentAt);
    const api = replies.map((r) => r.repliedAt - r.sentAt);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: Math.max(...lat), apiP50: percentile(api, 50), apiP99: percentile(api, 99), closed: closedAt.size };
  };
  try {
    // Warm: as many keep-alive connections as the agent will use, each with a full mTLS handshake done.
    await Promise.all(Array.from({ length: 16 }, () => admin.device("warm-up")));
    const spaced = await round(live.slice(connected - 2 * k, connected - k), spacingMs);
    const burst = await round(live.slice(connected - k), 0);
    return { spaced, burst, bystandersClosed };
  } finally {
    admin.close();
  }
}

/** 50 devices (a child process) -> one service subscriber here; latency from the send time in each payload. */
export async function fanIn(b: Broker, ca: string, svc: Cred, devices: Cred[], qos: 0 | 1, seconds: number) {
  const sub = await connect(connectorFor(b), svc, ctxFor(svc, ca));
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let received = 0;
  let measuring = false;
  sub.on("message", (_t, payload: Buffer) => {
    received++;
    if (measuring) h.recordValue(Number((process.hrtime.bigint() - payload.readBigUInt64BE(0)) / 1000n));
  });
  await sub.subscribeAsync("devices/+/telemetry", { qos });
  const job = { port: b.port, ca, clients: devices, seconds, qos, payloadBytes: 64, window: 20 };
  const child = spawn(process.execPath, [path.join(here, "fanin-worker.js"), JSON.stringify(job)], { stdio: ["ignore", "pipe", "inherit"] });
  const lines: Record<string, number>[] = [];
  child.stdout!.on("data", (d: Buffer) => { for (const l of d.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, number>); });
  const exited = new Promise((r) => child.once("exit", r));
  while (!lines.some((l) => "connected" in l)) await sleep(20);
  const cpu0 = cpuMicros(b.pid);
  const r0 = received;
  const t0 = performance.now();
  measuring = true;
  await exited;
  const secs = (performance.now() - t0) / 1000;
  const delivered = received - r0;
  const cpu = cpuMicros(b.pid) - cpu0;
  // Let in-flight messages land, then compare with what the publishers had acknowledged.
  for (let last = -1; last !== received; ) { last = received; await sleep(500); }
  measuring = false;
  const sent = lines.find((l) => "acked" in l)?.acked ?? 0;
  await sub.endAsync();
  return { msgsPerSec: delivered / secs, cpuUsPerMsg: cpu / delivered, p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000, sent, received };
}
