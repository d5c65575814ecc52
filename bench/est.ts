import "reflect-metadata";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { CLI, initTestDataDir, spawnGateway, tmpDir } from "../testkit/gateway.js";
import { EstClient } from "../device-sim/est-client.js";
import { buildDeviceCsr } from "../device-sim/device-csr.js";
import { CLK_TCK, cpuMicros } from "./lib/proc.js";

/**
 * `npm run bench:est`: N enrollments at concurrency C against a gateway child
 * process, each on a new TLS connection (full handshake, no resumption), and
 * the same number of bare HTTPS requests (GET cacerts: a precomputed answer)
 * with the same handshake. The gateway's CPU is read from /proc/<pid>/stat
 * (utime + stime) around each timed phase, so the client's work is excluded.
 * Tokens and CSRs are made before the clock starts.
 *
 * Both phases run in interleaved rounds (default 5) so that drift on a shared
 * machine affects them alike; the totals and the per-round spread are printed.
 *
 *   npm run bench:est -- --n 2000 --concurrency 32 --rounds 5     (or BENCH_EST_N=2000)
 */
const { values } = parseArgs({
  options: { n: { type: "string" }, concurrency: { type: "string" }, warmup: { type: "string" }, rounds: { type: "string" } },
});
const N = Number(values.n ?? process.env.BENCH_EST_N ?? 500);
const C = Number(values.concurrency ?? process.env.BENCH_EST_CONCURRENCY ?? 32);
const WARMUP = Number(values.warmup ?? 100);
const ROUNDS = Number(values.rounds ?? 5);
if (!(N > 0 && C > 0 && WARMUP >= 0 && ROUNDS >= 1 && ROUNDS <= N)) throw new Error("--n, --concurrency, --rounds (<= n) must be positive, --warmup >= 0");

const cpuMs = (pid: number) => cpuMicros(pid) / 1000;

async function pool(count: number, concurrency: number, job: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  let failures = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      try {
        await job(i);
      } catch (e) {
        if (failures++ < 3) console.error(`request ${i} failed: ${String(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return failures;
}

interface Phase { label: string; count: number; seconds: number; cpuMs: number; failures: number }

async function timed(pid: number, label: string, count: number, job: (i: number) => Promise<unknown>): Promise<Phase> {
  const cpu0 = cpuMs(pid);
  const t0 = process.hrtime.bigint();
  const failures = await pool(count, C, job);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { label, count, seconds, cpuMs: cpuMs(pid) - cpu0, failures };
}

async function main() {
  // Only `gateway start` creates a data directory; the tokens below need one first.
  const dir = await initTestDataDir(tmpDir("fg-bench-est-"));
  const total = N + WARMUP;
  // Untimed setup: the data directory, tokens (through the real CLI) and one key + CSR per enrollment.
  const csv = execFileSync(process.execPath, [CLI, "token", "create", "--count", String(total), "--prefix", "bench-", "--ttl", "2h", "--data", dir], { encoding: "utf8" });
  const tokens = csv.trim().split("\n").map((l) => {
    const [deviceId, token] = l.split(",");
    return { deviceId: deviceId!, token: token! };
  });
  const csrs = tokens.map((t) => buildDeviceCsr(t.deviceId, crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey));

  const gw = await spawnGateway(["--data", dir, "--host", "127.0.0.1", "--https-port", "0", "--mqtts-port", "0", "--metrics-port", "0"]);
  const pid = gw.child.pid!;
  try {
    const est = new EstClient({ baseUrl: `https://127.0.0.1:${gw.ready.httpsPort}`, caPem: fs.readFileSync(`${dir}/pki/ca.pem`) });
    const enrollOne = (i: number) => est.simpleEnroll(csrs[i]!, tokens[i]!);
    // Warm-up: JIT, SQLite page cache, fastify route caches.
    await pool(WARMUP, C, (i) => est.cacerts().then(() => enrollOne(N + i)));
    const idle0 = cpuMs(pid);
    await new Promise((r) => setTimeout(r, 1000));
    const idleMsPerS = cpuMs(pid) - idle0;

    // Interleaved rounds: the machine is shared, so slow drift (other processes, CPU frequency) hits both phases alike.
    const rounds: { bare: Phase; enroll: Phase }[] = [];
    for (let r = 0, done = 0; r < ROUNDS; r++) {
      const count = Math.floor((N * (r + 1)) / ROUNDS) - done;
      const base = done;
      done += count;
      const bare = await timed(pid, "bare HTTPS (GET cacerts)", count, () => est.cacerts());
      const enroll = await timed(pid, "EST simpleenroll", count, (i) => enrollOne(base + i));
      rounds.push({ bare, enroll });
    }
    const sum = (ps: Phase[]): Phase => ps.reduce((a, p) => ({ ...a, count: a.count + p.count, seconds: a.seconds + p.seconds, cpuMs: a.cpuMs + p.cpuMs, failures: a.failures + p.failures }), { ...ps[0]!, count: 0, seconds: 0, cpuMs: 0, failures: 0 });
    const bare = sum(rounds.map((r) => r.bare));
    const enroll = sum(rounds.map((r) => r.enroll));

    const per = (p: Phase) => p.cpuMs / p.count;
    const estWork = per(enroll) - per(bare);
    const ratios = rounds.map((r) => (per(r.enroll) - per(r.bare)) / per(r.bare)).sort((a, b) => a - b);
    const lines = [
      `EST benchmark: ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? "?"})`,
      `N=${N} concurrency=${C} warmup=${WARMUP} rounds=${ROUNDS}, new TLS connection per request (agent: false), gateway pid ${pid}, CPU from /proc (tick ${1000 / CLK_TCK} ms), idle ${idleMsPerS.toFixed(0)} ms CPU/s`,
      ...[bare, enroll].map((p) =>
        `${p.label.padEnd(26)} ${(p.count / p.seconds).toFixed(1).padStart(8)} req/s  gateway CPU ${per(p).toFixed(3)} ms/req  (${p.cpuMs.toFixed(0)} ms over ${p.seconds.toFixed(2)} s, ${p.failures} failed)`),
      `EST work per enrollment (enroll CPU - bare-request CPU): ${estWork.toFixed(3)} ms; ratio to the bare request (handshake + HTTP): ${(estWork / per(bare)).toFixed(2)} (target <= 1)`,
      `per-round ratios: min ${ratios[0]!.toFixed(2)}, median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}, max ${ratios[ratios.length - 1]!.toFixed(2)}`,
    ];
    console.log(lines.join("\n"));
    if (bare.failures + enroll.failures > 0) process.exitCode = 1;
  } finally {
    await gw.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
