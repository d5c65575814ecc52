/**
 * `npm run bench:vs-mosquitto` (issue 7): the gateway (a real `gateway start`
 * child process) against Mosquitto (require_certificate, use_identity_as_username,
 * pattern ACL; bench/lib/mosquitto.ts) on the same machine, in the same run, with
 * the same certificates and the simulator's MQTT.js connector as load generator.
 * Broker CPU is utime+stime of the broker process from /proc (10 ms ticks), RSS
 * from /proc/<pid>/status. Env overrides: BENCH_CONNECTS, BENCH_CONNECT_ROUNDS, BENCH_IDLE_SMALL,
 * BENCH_IDLE_LARGE, BENCH_FANIN_SECONDS, BENCH_REVOKE_CONNECTED, BENCH_REVOKE_K,
 * BENCH_ONLY (comma list of connect,rss,fanin,revoke), BENCH_CPU_PROF (a directory:
 * the node brokers run with --cpu-prof there), BENCH_LADDER=0 (leave out the two
 * reference columns: plain aedes, and the node:tls floor of bench/tls-floor.ts).
 */
import "reflect-metadata";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execSync } from "node:child_process";
import { resolveConfig } from "../config.js";
import { initDataDir } from "../runtime/datadir.js";
import { silentLogger } from "../log.js";
import { issueDirect } from "../testkit/certs.js";
import { spawnGateway, tmpDir } from "../testkit/gateway.js";
import { startMosquitto } from "./lib/mosquitto.js";
import { startChild } from "./lib/child.js";
import { CrlService } from "../enroll/crl-service.js";
import { toPem } from "../pki/der.js";
import { cpuMicros, rssKiB } from "./lib/proc.js";
import { sleep, median } from "./lib/util.js";
import { type Broker, type Cred, connectCosts, fanIn, idleRss, revokeDrill } from "./lib/vs-phases.js";

const env = (k: string, d: number) => Number(process.env[k] ?? d);
const CONNECTS = env("BENCH_CONNECTS", 300);
const CONNECT_ROUNDS = env("BENCH_CONNECT_ROUNDS", 3);
const IDLE_SMALL = env("BENCH_IDLE_SMALL", 2000);
const IDLE_LARGE = env("BENCH_IDLE_LARGE", 10000);
const FANIN_SECONDS = env("BENCH_FANIN_SECONDS", 5);
const REVOKE_CONNECTED = env("BENCH_REVOKE_CONNECTED", 5000);
const REVOKE_K = env("BENCH_REVOKE_K", 50);
const ONLY = new Set((process.env.BENCH_ONLY ?? "connect,rss,fanin,revoke").split(","));
const PROF = process.env.BENCH_CPU_PROF;
const LADDER = process.env.BENCH_LADDER !== "0";
const here = path.dirname(new URL(import.meta.url).pathname);

async function main() {
  const started = Date.now();
  const dataDir = tmpDir("fg-vsmq-");
  const stops: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    await new Promise((r) => setImmediate(r));
    for (const s of stops.reverse()) await s().catch(() => {});
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  // Never leave a broker running: a crash anywhere still stops both children.
  const die = (err: unknown) => { console.error(err); void cleanup().finally(() => process.exit(1)); };
  process.once("uncaughtException", die);
  process.once("unhandledRejection", die);
  process.once("SIGINT", () => die(new Error("interrupted")));
  process.once("SIGTERM", () => die(new Error("terminated")));
  try {
    const config = resolveConfig({ data: dataDir, host: "127.0.0.1" }, {});
    const dir = await initDataDir(config, silentLogger(), Date.now);
    const deps = { ca: dir.ca, store: dir.store, config };
    const nDevices = Math.max(ONLY.has("rss") ? IDLE_LARGE : 0, ONLY.has("revoke") ? REVOKE_CONNECTED : 0, 100) + 450;
    process.stderr.write(`issuing ${nDevices} device certificates...\n`);
    const devices: Cred[] = Array.from({ length: nDevices }, (_, i) => {
      const c = issueDirect(deps, `d${i}`);
      return { id: `d${i}`, cert: c.certPem, key: c.keyPem };
    });
    const s = issueDirect(deps, "svc", { role: "service" });
    const svc: Cred = { id: "svc-bench", cert: s.certPem, key: s.keyPem };
    const p = dir.pki.paths;
    const ca = fs.readFileSync(p.rootCert, "utf8");
    const mqDir = path.join(dataDir, "mosquitto");
    fs.mkdirSync(mqDir);
    fs.writeFileSync(path.join(mqDir, "cas.pem"), fs.readFileSync(p.rootCert, "utf8") + fs.readFileSync(p.issuingCert, "utf8"));
    // The chain the gateway sends (leaf + issuing CA), so both brokers send the same bytes.
    fs.writeFileSync(path.join(mqDir, "server-chain.pem"), dir.pki.serverCertChainPem);
    // Like the gateway, which refuses revoked certificates, Mosquitto checks a CRL (the gateway's own, from
    // its issuing CA) at every handshake: the equivalent configuration. It applies at the next connect only.
    fs.writeFileSync(path.join(mqDir, "crl.pem"), toPem(await new CrlService({ store: dir.store, ca: dir.ca, clock: Date.now }).current(), "X509 CRL"));
    dir.store.close();

    /** Starts every broker on the same data dir; each phase group gets fresh processes (a heap grown by one phase would skew the next). */
    const boot = async () => {
      const procs: (() => Promise<unknown>)[] = [];
      const gw = await spawnGateway(["--data", dataDir, "--host", "127.0.0.1", "--https-port", "0", "--mqtts-port", "0", "--metrics-port", "0",
        "--log-level", "info", "--publish-rate", "1000000", "--publish-burst", "1000000", "--connect-rate", "1000000",
        "--max-pending-connections", "1000000", "--max-pending-per-address", "1000000", "--max-inflight", "100000"],
      {}, 30_000, PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : []);
      procs.push(() => gw.stop());
      const mq = await startMosquitto({ dir: mqDir, caFile: path.join(mqDir, "cas.pem"), certFile: path.join(mqDir, "server-chain.pem"), keyFile: p.serverKey, crlFile: path.join(mqDir, "crl.pem"), services: ["svc"] });
      procs.push(() => mq.stop());
      const G: Broker = { name: "gateway", pid: gw.child.pid!, port: gw.ready.mqttsPort };
      const M: Broker = { name: "mosquitto", pid: mq.child.pid!, port: mq.port };
      // The ladder: the same connect and idle figures for plain aedes (no hooks) and for
      // node:tls with a hand-written CONNACK (no MQTT library), to show where the cost sits.
      const refs: Broker[] = [];
      if (LADDER && (ONLY.has("connect") || ONLY.has("rss"))) {
        for (const [name, file] of [["plain aedes", "broker-plain.js"], ["node:tls floor", "tls-floor.js"]] as const) {
          const c = await startChild(name, [path.join(here, file), dataDir], (j) => j.port as number, PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`, `--cpu-prof-name=${file}.cpuprofile`] : []);
          procs.push(() => c.stop());
          refs.push({ name, pid: c.pid, port: c.port });
        }
      }
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        for (const s of procs.reverse()) await s().catch(() => {});
      };
      stops.push(stop);
      return { G, M, refs, all: [G, M, ...refs], httpsPort: gw.ready.httpsPort, stop };
    };
    let bs = await boot();
    const refs = bs.refs;
    const R: Record<string, (number | string)[]> = {};
    const notes: string[] = [];

    if (ONLY.has("connect")) {
      const variants = [
        { key: "full13", maxVersion: "TLSv1.3" as const, resume: false },
        { key: "full12", maxVersion: "TLSv1.2" as const, resume: false },
        { key: "resumed13", maxVersion: "TLSv1.3" as const, resume: true },
        { key: "resumed12", maxVersion: "TLSv1.2" as const, resume: true },
      ];
      // Connect phases use the last 400 certificates, never among the revoked ones (those are below REVOKE_CONNECTED).
      await connectCosts(bs.all, ca, devices.slice(nDevices - 450, nDevices - 400), 100, "TLSv1.3", false); // JIT warm-up
      const runs: Record<string, number[][]> = {};
      for (let round = 0; round < CONNECT_ROUNDS; round++) {
        for (const v of variants) {
          process.stderr.write(`connects ${v.key}, round ${round + 1} (all brokers at once)...\n`);
          const from = nDevices - 400 + (round % 2) * 200;
          const c = await connectCosts(bs.all, ca, devices.slice(from, from + 200), CONNECTS, v.maxVersion, v.resume);
          (runs[v.key] ??= bs.all.map(() => [])).forEach((xs, i) => xs.push(c[i]!.cpuUs));
          c.forEach((x, i) => { if (x.failed) notes.push(`${v.key} round ${round + 1}: ${bs.all[i]!.name} refused ${x.failed}/${CONNECTS} connects (${x.error})`); });
          if (v.resume) notes.push(`${v.key} round ${round + 1}: resumed ${c.map((x, i) => `${bs.all[i]!.name} ${(x.resumedFraction * 100).toFixed(0)} %`).join(", ")}`);
        }
      }
      for (const v of variants) R[v.key] = runs[v.key]!.map((xs) => median(xs));
    }
    if ((ONLY.has("rss") || ONLY.has("revoke")) && ONLY.has("connect")) {
      await bs.stop();
      bs = await boot();
    }
    if (ONLY.has("rss") || ONLY.has("revoke")) {
      // Fresh processes first: a heap grown by earlier phases would absorb new connections.
      // Without "rss", only the gateway connects, and only as many as the revocation drill needs.
      const sizes = ONLY.has("rss") ? [IDLE_SMALL, IDLE_LARGE] : [REVOKE_CONNECTED];
      for (const [i, b] of (ONLY.has("rss") ? bs.all : [bs.G]).entries()) {
        process.stderr.write(`${b.name}: idle connections ${sizes.join(" then ")}...\n`);
        const r = await idleRss(b, ca, devices, sizes, b === bs.G && ONLY.has("revoke") ? async (conns) => {
          process.stderr.write(`gateway: revocation drill, ${REVOKE_K} of ${REVOKE_CONNECTED} connected...\n`);
          const d = await revokeDrill(`https://127.0.0.1:${bs.httpsPort}`, p, ca, conns, REVOKE_CONNECTED, REVOKE_K);
          R.revokeP99 = [d.spaced.p99, "n/a (CRL applies at next connect)"];
          R.revokeP50 = [d.spaced.p50, "n/a"];
          R.revokeBurstP99 = [d.burst.p99, "n/a"];
          notes.push(`revocation, ${REVOKE_K} one every 20 ms: ${d.spaced.closed}/${REVOKE_K} disconnected, p50 ${d.spaced.p50.toFixed(1)} ms, p99 ${d.spaced.p99.toFixed(1)} ms, max ${d.spaced.max.toFixed(1)} ms; admin API answer p50 ${d.spaced.apiP50.toFixed(1)} ms, p99 ${d.spaced.apiP99.toFixed(1)} ms`);
          notes.push(`revocation, ${REVOKE_K} at once: ${d.burst.closed}/${REVOKE_K} disconnected, p50 ${d.burst.p50.toFixed(1)} ms, p99 ${d.burst.p99.toFixed(1)} ms; admin API answer p50 ${d.burst.apiP50.toFixed(1)} ms, p99 ${d.burst.apiP99.toFixed(1)} ms`);
          notes.push(`revocation: ${d.bystandersClosed} of ${REVOKE_CONNECTED - 2 * REVOKE_K} bystanders closed`);
        } : undefined);
        if (ONLY.has("rss")) for (const [k, n] of sizes.entries()) (R[`rss${n}`] ??= bs.all.map(() => NaN))[i] = r[k]!;
      }
    }
    if (ONLY.has("fanin")) {
      for (const qos of [0, 1] as const) {
        // Throughput needs the machine: brokers take turns, best of two rounds.
        const best = [{ rate: 0, cpu: Infinity, p50: NaN, p99: NaN, loss: "" }, { rate: 0, cpu: Infinity, p50: NaN, p99: NaN, loss: "" }];
        for (let round = 0; round < 2; round++) {
          for (const [i, b] of [bs.G, bs.M].entries()) {
            process.stderr.write(`${b.name}: QoS ${qos} fan-in, round ${round + 1}...\n`);
            const f = await fanIn(b, ca, svc, devices.slice(0, 50), qos, FANIN_SECONDS);
            notes.push(`QoS ${qos} ${b.name} round ${round + 1}: ${f.msgsPerSec.toFixed(0)} msgs/s, ${f.cpuUsPerMsg.toFixed(1)} µs/msg, p50 ${f.p50.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms, received ${f.received}/${f.sent} sent`);
            if (f.msgsPerSec > best[i]!.rate) best[i] = { rate: f.msgsPerSec, cpu: f.cpuUsPerMsg, p50: f.p50, p99: f.p99, loss: `${f.sent - f.received}` };
          }
        }
        R[`q${qos}rate`] = [best[0]!.rate, best[1]!.rate];
        R[`q${qos}cpu`] = [best[0]!.cpu, best[1]!.cpu];
        R[`q${qos}p50`] = [best[0]!.p50, best[1]!.p50];
        R[`q${qos}p99`] = [best[0]!.p99, best[1]!.p99];
        R[`q${qos}loss`] = [best[0]!.loss, best[1]!.loss];
      }
    }
    for (const b of bs.all) notes.push(`${b.name} final: CPU ${(cpuMicros(b.pid) / 1e6).toFixed(1)} s, RSS ${rssKiB(b.pid)} KiB`);
    await cleanup();
    stops.length = 0;

    const num = (x: number | string | undefined) => (typeof x === "number" ? x : NaN);
    const fmt = (x: number | string | undefined) => (typeof x === "string" ? x : x === undefined || Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(2));
    type Row = [label: string, key: string, target: string, met?: (g: number, m: number) => boolean];
    const full = num(R.full13?.[0]);
    const rows: Row[] = [
      ["broker CPU per full mTLS connect, TLS 1.3 (µs)", "full13", "ratio ≤ 1.25", (g, m) => g / m <= 1.25],
      ["broker CPU per full mTLS connect, TLS 1.2 (µs)", "full12", "ratio ≤ 1.25", (g, m) => g / m <= 1.25],
      ["broker CPU per resumed connect, TLS 1.3 (µs)", "resumed13", "≤ 1/3 of full (gateway)", (g) => g <= full / 3],
      ["broker CPU per resumed connect, TLS 1.2 (µs)", "resumed12", "≤ 1/3 of full (gateway)", (g) => g <= num(R.full12?.[0]) / 3],
      [`RSS per idle mTLS connection, ${IDLE_SMALL} conns (KiB)`, `rss${IDLE_SMALL}`, "ratio ≤ 2.0", (g, m) => g / m <= 2],
      [`RSS per idle mTLS connection, ${IDLE_LARGE} conns (KiB)`, `rss${IDLE_LARGE}`, "ratio ≤ 2.0", (g, m) => g / m <= 2],
      ["QoS 0 fan-in 50 -> 1, delivered msgs/s", "q0rate", "-"],
      ["QoS 0 broker CPU per message (µs)", "q0cpu", "-"],
      ["QoS 0 latency p50 (ms)", "q0p50", "-"],
      ["QoS 0 latency p99 (ms)", "q0p99", "-"],
      ["QoS 0 lost (sent - received)", "q0loss", "-"],
      ["QoS 1 fan-in 50 -> 1, delivered msgs/s", "q1rate", "ratio ≥ 1.0", (g, m) => g / m >= 1],
      ["QoS 1 broker CPU per message (µs)", "q1cpu", "-"],
      ["QoS 1 latency p50 (ms)", "q1p50", "-"],
      ["QoS 1 latency p99 (ms)", "q1p99", "-"],
      ["QoS 1 lost (acknowledged - received)", "q1loss", "0", (g, m) => g === 0 && m >= 0],
      [`revocation-to-disconnect p50, ${REVOKE_CONNECTED} connected, one every 20 ms (ms)`, "revokeP50", "-"],
      [`revocation-to-disconnect p99, ${REVOKE_CONNECTED} connected, one every 20 ms (ms)`, "revokeP99", "≤ 100 ms", (g) => g <= 100],
      [`same, ${REVOKE_K} revocations at once (ms)`, "revokeBurstP99", "-"],
    ];
    const refHead = refs.map((b) => ` ${b.name} |`).join("");
    const lines = [`| metric | gateway | mosquitto | ratio (gw/mq) | target | met? |${refHead}`, `|---|---:|---:|---:|---|---|${refs.map(() => "---:|").join("")}`];
    for (const [label, key, target, met] of rows) {
      const v = R[key];
      if (!v) continue;
      const [g, m] = v;
      const ratio = typeof g === "number" && typeof m === "number" && m !== 0 ? (g / m).toFixed(2) : typeof g === "string" && typeof m === "string" && Number(m) !== 0 ? (Number(g) / Number(m)).toFixed(2) : "-";
      const ok = met ? (met(Number(g), Number(m)) ? "yes" : "NO") : "";
      const refCells = refs.map((_, i) => ` ${fmt(v[2 + i])} |`).join("");
      lines.push(`| ${label} | ${fmt(g)} | ${fmt(m)} | ${ratio} | ${target} | ${ok} |${refCells}`);
    }
    console.log(lines.join("\n"));
    console.log("\n" + notes.map((n) => `- ${n}`).join("\n"));
    const model = /Model name:\s*(.*)/.exec(execSync("lscpu").toString())?.[1] ?? os.cpus()[0]?.model;
    console.log(`\nmachine: ${model}, nproc ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${execSync("mosquitto -h 2>&1 | head -1 || true").toString().trim()}; ` +
      `load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}; ${new Date().toISOString()}; run took ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    await cleanup();
  }
}

await main();
await sleep(0);
