/**
 * `npm run bench:aedes-patch` (issue 7): what bench/patches/aedes-1.2.0-connect-without-pipeline.patch
 * (proposed upstream, not applied to fleetgate's node_modules) saves per mTLS
 * connect. Copies node_modules/aedes under dist/bench/, applies the patch there
 * with `git apply`, and drives three children AT THE SAME TIME with the same
 * MQTT.js connect-CONNACK-DISCONNECT cycles: plain aedes, plain aedes patched, and
 * the node:tls floor (bench/tls-floor.ts). Broker CPU from /proc (10 ms ticks).
 * Env: BENCH_CONNECTS (per round, default 400), BENCH_ROUNDS (default 7).
 */
import "reflect-metadata";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { execFileSync, execSync } from "node:child_process";
import { resolveConfig } from "../config.js";
import { openDataDir } from "../datadir.js";
import { silentLogger } from "../log.js";
import { issueDirect } from "../test/helpers/certs.js";
import { tmpDir } from "../test/helpers/gateway.js";
import { startChild, type ChildBroker } from "./lib/child.js";
import { type Cred, connectCosts } from "./lib/vs-phases.js";
import { median } from "./lib/util.js";

const here = path.dirname(new URL(import.meta.url).pathname);
const N = Number(process.env.BENCH_CONNECTS ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const PATCH = path.resolve(here, "../../bench/patches/aedes-1.2.0-connect-without-pipeline.patch");

/** A patched copy of aedes whose own imports (mqtt-packet, ...) still resolve to the project's node_modules. */
function patchedAedes(): string {
  const src = path.resolve(here, "../../node_modules/aedes");
  const dst = path.join(here, "aedes-patched", "node_modules", "aedes");
  fs.rmSync(path.join(here, "aedes-patched"), { recursive: true, force: true });
  fs.cpSync(src, dst, { recursive: true });
  execFileSync("git", ["apply", "-p1", PATCH], { cwd: dst, stdio: "inherit" });
  return path.join(dst, "aedes.js");
}

async function main() {
  const dataDir = tmpDir("fg-aedes-patch-");
  const brokers: ChildBroker[] = [];
  try {
    const config = resolveConfig({ data: dataDir, host: "127.0.0.1" }, {});
    const dir = openDataDir(config, silentLogger(), Date.now);
    const creds: Cred[] = Array.from({ length: 200 }, (_, i) => {
      const c = issueDirect({ ca: dir.ca, store: dir.store, config }, `d${i}`);
      return { id: `d${i}`, cert: c.certPem, key: c.keyPem };
    });
    const ca = fs.readFileSync(dir.pki.paths.rootCert, "utf8");
    dir.store.close();
    const patched = patchedAedes();
    const port = (j: Record<string, unknown>) => j.port as number;
    brokers.push(await startChild("plain aedes 1.2.0", [path.join(here, "broker-plain.js"), dataDir], port));
    brokers.push(await startChild("aedes 1.2.0 + patch", [path.join(here, "broker-plain.js"), dataDir, patched], port));
    brokers.push(await startChild("node:tls floor", [path.join(here, "tls-floor.js"), dataDir], port));
    const targets = brokers.map((b) => ({ name: b.name, pid: b.pid, port: b.port }));
    await connectCosts(targets, ca, creds.slice(0, 50), 100, "TLSv1.3", false); // JIT warm-up
    const runs: number[][] = brokers.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      const c = await connectCosts(targets, ca, creds.slice(50 + (r % 3) * 50, 100 + (r % 3) * 50), N, "TLSv1.3", false);
      c.forEach((x, i) => {
        if (x.failed) throw new Error(`${brokers[i]!.name}: ${x.failed} connects failed (${x.error})`);
        runs[i]!.push(x.cpuUs);
      });
      process.stderr.write(`round ${r + 1}: ${c.map((x, i) => `${brokers[i]!.name} ${x.cpuUs.toFixed(0)} µs`).join(", ")}\n`);
    }
    const m = runs.map((xs) => median(xs));
    const floor = m[2]!;
    console.log("| broker (TLS 1.3 full mTLS connect + CONNACK + DISCONNECT) | CPU µs, median | over the floor (µs) |");
    console.log("|---|---:|---:|");
    brokers.forEach((b, i) => console.log(`| ${b.name} | ${m[i]!.toFixed(0)} | ${(m[i]! - floor).toFixed(0)} |`));
    const saved = runs[0]!.map((x, i) => x - runs[1]![i]!);
    console.log(`\nsaved by the patch per round (µs): ${saved.map((x) => x.toFixed(0)).join(", ")}; median ${median(saved).toFixed(0)} µs ` +
      `(${((100 * median(saved)) / m[0]!).toFixed(1)} % of plain aedes, ${((100 * median(saved)) / (m[0]! - floor)).toFixed(1)} % of what aedes adds over the floor)`);
    const model = /Model name:\s*(.*)/.exec(execSync("lscpu").toString())?.[1] ?? os.cpus()[0]?.model;
    console.log(`machine: ${model}, nproc ${os.cpus().length}, node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}; ${new Date().toISOString()}; ${ROUNDS} rounds of ${N}`);
  } finally {
    for (const b of brokers) await b.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
