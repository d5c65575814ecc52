/**
 * `npm run bench:broker`: the gateway's broker against plain aedes 1.2.0 over TLS
 * (bench/broker-plain.ts), same machine, same server certificate and CAs, same
 * MQTT.js load, in one run. Each broker is its own child process, so its CPU is
 * read from /proc/<pid>/stat (utime+stime, all threads) and its RSS from
 * /proc/<pid>/status. Figures (issue 4):
 *   - broker CPU per full mTLS connect (CONNECT..DISCONNECT, no TLS resumption)
 *   - RSS per idle connection (N idle connections: RSS delta / N)
 *   - QoS 1 fan-in: 50 devices -> one service subscriber, delivered msgs/s, CPU per message
 * The gateway runs with its publish and connect rate limits raised out of the
 * way (the figure is the cost of identity, ACL and revocation, not of policy).
 * Method, because the machine is shared: connect CPU is measured on both brokers
 * AT ONCE (same window, same background load) over three rounds (median); fan-in
 * throughput with the brokers taking turns, A B B A (best run); CPU per message
 * at the same paced load for both (flat out, a broker that gets less CPU batches
 * more per event-loop turn and looks cheaper per message); idle RSS on fresh
 * processes after the heap settles. Env: BENCH_ONLY=connect|rss|fanin, BENCH_IDLE,
 * BENCH_CONNECTS, BENCH_FANIN_SECONDS, BENCH_WINDOW, BENCH_PACED_RATE, BENCH_CPU_PROF=<dir>.
 */
import "reflect-metadata";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import mqtt, { type MqttClient } from "mqtt";
import { resolveConfig } from "../config.js";
import { initDataDir } from "../runtime/datadir.js";
import { silentLogger } from "../log.js";
import { issueDirect } from "../testkit/certs.js";
import { CLI, tmpDir } from "../testkit/gateway.js";
import { median, pool, sleep } from "./lib/util.js";
import { cpuMicros, rssKiB } from "./lib/proc.js";
import { reap, startChild as startBrokerChild } from "./lib/child.js";

const IDLE = Number(process.env.BENCH_IDLE ?? 2000);
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 400);
const COLD = 150;
const ROUNDS = 3;
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 6000);
const FANIN_SECONDS = Number(process.env.BENCH_FANIN_SECONDS ?? 6);
const PUBLISHERS = 50;
/** Unacknowledged QoS 1 publishes per device (Mosquitto's default max_inflight_messages is 20). */
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20);
/** Per-device publishes per second for the CPU-per-message figure (50 devices: 5,000 msgs/s per broker). */
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 100);
const PROF = process.env.BENCH_CPU_PROF; // a directory: both brokers run with --cpu-prof
const ONLY = process.env.BENCH_ONLY; // connect | rss | fanin, to run one figure while investigating
const here = path.dirname(new URL(import.meta.url).pathname);
const WORKER = path.join(here, "../test/integration/broker-flood-worker.js");

interface Cred { id: string; cert: string; key: string }
interface Target { name: string; pid: number; url: string; stop(): Promise<void> }

const cpuSeconds = (pid: number) => cpuMicros(pid) / 1e6;

function connectOne(url: string, ca: string, c: Cred): Promise<MqttClient> {
  return mqtt.connectAsync(url, { ca, cert: c.cert, key: c.key, clientId: c.id, reconnectPeriod: 0, keepalive: 300, connectTimeout: 60_000 });
}

/**
 * CPU per connect-and-disconnect cycle, `n` cycles over `creds` (4 in flight per
 * broker), run against every target AT THE SAME TIME: this machine is shared, and
 * background load moves per-process CPU figures by +-15 % from one minute to the
 * next; measured over the same window, both brokers see the same disturbance.
 */
async function cyclesCost(targets: Target[], ca: string, creds: Cred[], n: number): Promise<number[]> {
  await sleep(300);
  const cpu0 = targets.map((t) => cpuSeconds(t.pid));
  await Promise.all(targets.map((t) => pool(n, 4, async (i) => (await connectOne(t.url, ca, creds[i % creds.length]!)).endAsync())));
  await sleep(300);
  return targets.map((t, i) => ((cpuSeconds(t.pid) - cpu0[i]!) / n) * 1e6);
}

async function idleRss(t: Target, ca: string, creds: Cred[]): Promise<number> {
  // V8's memory reducer collects and shrinks the heap a few seconds after allocation
  // stops; reading RSS after that settles most of the garbage-collection noise.
  await sleep(SETTLE_MS);
  const rss0 = rssKiB(t.pid);
  const clients = await pool(IDLE, 50, (i) => connectOne(t.url, ca, creds[i]!));
  await sleep(SETTLE_MS);
  const perConn = (rssKiB(t.pid) - rss0) / IDLE;
  await pool(clients.length, 100, (i) => clients[i]!.endAsync());
  return perConn;
}

async function fanIn(t: Target, ca: string, svc: Cred, devices: Cred[], rate?: number) {
  const sub = await connectOne(t.url, ca, svc);
  let received = 0;
  sub.on("message", () => received++);
  await sub.subscribeAsync("devices/+/telemetry", { qos: 1 });
  const child = reap(spawn(process.execPath, [WORKER], { stdio: ["pipe", "pipe", "inherit"] }));
  child.stdin!.end(JSON.stringify({ url: t.url, ca, clients: devices, seconds: FANIN_SECONDS, qos: 1, payloadBytes: 64, window: WINDOW, rate }));
  const lines: Record<string, number>[] = [];
  child.stdout!.on("data", (d: Buffer) => { for (const l of d.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, number>); });
  while (!lines.some((l) => "connected" in l)) await sleep(20);
  const cpu0 = cpuSeconds(t.pid);
  const r0 = received;
  const t0 = performance.now();
  await new Promise((r) => child.once("exit", r));
  const secs = (performance.now() - t0) / 1000;
  const delivered = received - r0;
  const cpu = cpuSeconds(t.pid) - cpu0;
  // Let in-flight messages land, then compare with what the publishers sent.
  for (let last = -1; last !== received; ) { last = received; await sleep(500); }
  const sent = lines.find((l) => "acked" in l)?.acked ?? 0;
  await sub.endAsync();
  return { msgsPerSec: delivered / secs, cpuUsPerMsg: (cpu / delivered) * 1e6, sent, received };
}

/** A broker child process (bench/lib/child.ts) addressed by URL. */
async function startChild(name: string, args: string[], portOf: (j: Record<string, unknown>) => number | undefined): Promise<Target> {
  const c = await startBrokerChild(name, args, portOf, PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : []);
  return { name, pid: c.pid, url: `mqtts://127.0.0.1:${c.port}`, stop: c.stop };
}

const startPlain = (dataDir: string) => startChild("plain aedes", [path.join(here, "broker-plain.js"), dataDir], (j) => j.port as number);
const startGw = (dataDir: string) => startChild("gateway", [CLI, "start", "--data", dataDir, "--host", "127.0.0.1", "--https-port", "0", "--mqtts-port", "0", "--metrics-port", "0",
  "--log-level", "info", "--publish-rate", "1000000", "--publish-burst", "1000000", "--connect-rate", "1000000",
  "--max-pending-connections", "1000000", "--max-pending-per-address", "1000000"], (j) => (j.msg === "ready" ? (j.mqttsPort as number) : undefined));

async function main() {
  const started = Date.now();
  const dataDir = tmpDir("fg-bench-");
  const config = resolveConfig({ data: dataDir, host: "127.0.0.1" }, {});
  const dir = await initDataDir(config, silentLogger(), Date.now);
  const deps = { ca: dir.ca, store: dir.store, config };
  const ca = fs.readFileSync(dir.pki.paths.rootCert, "utf8");
  const count = Math.max(IDLE, 50 + ROUNDS * COLD, PUBLISHERS * 3);
  process.stderr.write(`issuing ${count} device certificates...\n`);
  const devices: Cred[] = Array.from({ length: count }, (_, i) => {
    const c = issueDirect(deps, `bench-${i}`);
    return { id: `bench-${i}`, cert: c.certPem, key: c.keyPem };
  });
  const s = issueDirect(deps, "svc", { role: "service" });
  const svc: Cred = { id: "svc-bench", cert: s.certPem, key: s.keyPem };
  dir.store.close();

  const targets = [await startGw(dataDir), await startPlain(dataDir)];
  const r = new Map(targets.map((t) => [t, { coldRuns: [] as number[], warmRuns: [] as number[], rss: NaN, rate: 0, cpuMsg: Infinity, sent: 0, received: 0 }]));
  // Idle RSS first, on fresh processes: a heap already grown by earlier phases would absorb new connections.
  if (!ONLY || ONLY === "rss") {
    for (const t of targets) {
      process.stderr.write(`${t.name}: ${IDLE} idle connections...\n`);
      r.get(t)!.rss = await idleRss(t, ca, devices);
    }
  }
  if (!ONLY || ONLY === "connect") {
    await cyclesCost(targets, ca, devices.slice(0, 50), 100); // JIT warm-up
    for (let round = 0; round < ROUNDS; round++) {
      process.stderr.write(`connects, round ${round + 1} (both brokers at once)...\n`);
      const fresh = devices.slice(50 + round * COLD, 50 + (round + 1) * COLD);
      const cold = await cyclesCost(targets, ca, fresh, fresh.length); // each certificate's first connect
      const warm = await cyclesCost(targets, ca, fresh, CONNECTS); // reconnects of known certificates
      targets.forEach((t, i) => {
        const x = r.get(t)!;
        x.coldRuns.push(cold[i]!);
        x.warmRuns.push(warm[i]!);
      });
    }
  }
  if (!ONLY || ONLY === "fanin") {
    // Throughput needs the machine to itself: the brokers take turns (A B B A, best run each).
    for (const t of [...targets, ...[...targets].reverse()]) {
      process.stderr.write(`${t.name}: QoS 1 fan-in alone (throughput)...\n`);
      const f = await fanIn(t, ca, svc, devices.slice(0, PUBLISHERS));
      const x = r.get(t)!;
      x.rate = Math.max(x.rate, f.msgsPerSec);
      x.sent += f.sent;
      x.received += f.received;
    }
    // CPU per message at the SAME offered load for both (paced, below saturation), both at
    // once: flat out, a broker that gets less CPU batches more per event-loop turn and looks
    // cheaper per message, so CPU per message is only comparable at equal message rates.
    process.stderr.write(`QoS 1 fan-in at ${PUBLISHERS * PACED_RATE} msgs/s, both brokers at once (CPU per message)...\n`);
    const both = await Promise.all(targets.map((t, i) => fanIn(t, ca, svc, devices.slice(PUBLISHERS * (i + 1), PUBLISHERS * (i + 2)), PACED_RATE)));
    targets.forEach((t, i) => {
      const x = r.get(t)!;
      x.cpuMsg = both[i]!.cpuUsPerMsg;
      x.sent += both[i]!.sent;
      x.received += both[i]!.received;
    });
  }
  for (const t of targets) await t.stop();
  const gw = r.get(targets[0]!)!;
  const pl = r.get(targets[1]!)!;
  const rows: [string, number, number][] = [
    ["broker CPU per full mTLS connect (µs), known certificate", median(gw.warmRuns), median(pl.warmRuns)],
    ["broker CPU per full mTLS connect (µs), certificate's first connect", median(gw.coldRuns), median(pl.coldRuns)],
    [`RSS per idle connection, ${IDLE} connections (KiB)`, gw.rss, pl.rss],
    [`QoS 1 fan-in ${PUBLISHERS} devices -> 1 service, delivered (msgs/s)`, gw.rate, pl.rate],
    [`broker CPU per fan-in message at ${PUBLISHERS * PACED_RATE} msgs/s (µs)`, gw.cpuMsg, pl.cpuMsg],
  ];
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
  const out = [
    `| figure | gateway | plain aedes | gateway/plain |`,
    `|---|---:|---:|---:|`,
    ...rows.map(([n, a, b]) => `| ${n} | ${fmt(a)} | ${fmt(b)} | ${(a / b).toFixed(2)} |`),
  ];
  console.log(out.join("\n"));
  console.log(`\nfan-in: ${WINDOW} unacknowledged QoS 1 per device; delivered/acknowledged: gateway ${gw.received}/${gw.sent}, plain aedes ${pl.received}/${pl.sent}`);
  console.log(`machine: ${os.cpus()[0]?.model ?? "?"} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString().slice(0, 10)}; run took ${Math.round((Date.now() - started) / 1000)} s`);
  fs.rmSync(dataDir, { recursive: true, force: true });
}

await main().catch((e: unknown) => {
  console.error(e);
  process.exit(1); // the 'exit' handler stops the broker children
});
