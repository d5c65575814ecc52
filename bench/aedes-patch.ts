/**
 * `npm run bench:aedes-patch` (issue 7): what the patches in bench/patches/
 * (proposed upstream, not applied to fleetgate's node_modules) save per mTLS
 * connect. Copies aedes (and mqtt-packet) under dist/bench/, applies the patches
 * there with `git apply`, and drives four children AT THE SAME TIME with the same
 * MQTT.js connect-CONNACK-DISCONNECT cycles: plain aedes, aedes patched, aedes and
 * mqtt-packet patched, and the node:tls floor (bench/tls-floor.ts). Broker CPU
 * from /proc (10 ms ticks).
 * Env: BENCH_CONNECTS (per round, default 400), BENCH_ROUNDS (default 7).
 */
import "reflect-metadata";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { execFileSync, execSync } from "node:child_process";
import { resolveConfig } from "../config.js";
import { initDataDir } from "../runtime/datadir.js";
import { silentLogger } from "../log.js";
import { issueDirect } from "../testkit/certs.js";
import { tmpDir } from "../testkit/gateway.js";
import { startChild, type ChildBroker } from "./lib/child.js";
import { type Cred, connectCosts } from "./lib/vs-phases.js";
import { median } from "./lib/util.js";

const here = path.dirname(new URL(import.meta.url).pathname);
const N = Number(process.env.BENCH_CONNECTS ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const PATCHES = path.resolve(here, "../../bench/patches");

/**
 * A copy of aedes (and, with `withParser`, of mqtt-packet beside it) with the
 * patches applied. Dependencies the copies do not include (bl, mqemitter, ...)
 * still resolve to the project's node_modules, up the directory tree.
 */
function patchedAedes(dirName: string, withParser: boolean): string {
  const root = path.join(here, dirName, "node_modules");
  fs.rmSync(path.join(here, dirName), { recursive: true, force: true });
  const copy = (pkg: string, patch: string) => {
    const dst = path.join(root, pkg);
    fs.cpSync(path.resolve(here, "../../node_modules", pkg), dst, { recursive: true });
    execFileSync("git", ["apply", "-p1", path.join(PATCHES, patch)], { cwd: dst, stdio: "inherit" });
  };
  copy("aedes", "aedes-1.2.0-connect-without-pipeline.patch");
  if (withParser) copy("mqtt-packet", "mqtt-packet-9.0.2-parser-bufferlist.patch");
  return path.join(root, "aedes", "aedes.js");
}

async function main() {
  const dataDir = tmpDir("fg-aedes-patch-");
  const brokers: ChildBroker[] = [];
  try {
    const config = resolveConfig({ data: dataDir, host: "127.0.0.1" }, {});
    const dir = await initDataDir(config, silentLogger(), Date.now);
    const creds: Cred[] = Array.from({ length: 200 }, (_, i) => {
      const c = issueDirect({ ca: dir.ca, store: dir.store, config }, `d${i}`);
      return { id: `d${i}`, cert: c.certPem, key: c.keyPem };
    });
    const ca = fs.readFileSync(dir.pki.paths.rootCert, "utf8");
    dir.store.close();
    const port = (j: Record<string, unknown>) => j.port as number;
    const plain = (name: string, ...aedes: string[]) => startChild(name, [path.join(here, "broker-plain.js"), dataDir, ...aedes], port);
    brokers.push(await plain("plain aedes 1.2.0"));
    brokers.push(await plain("+ aedes patch", patchedAedes("aedes-patched-1", false)));
    brokers.push(await plain("+ aedes and mqtt-packet patches", patchedAedes("aedes-patched-2", true)));
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
    const floor = m[m.length - 1]!;
    console.log("| broker (TLS 1.3 full mTLS connect + CONNACK + DISCONNECT) | CPU µs, median | over the floor (µs) | saved vs plain, median of per-round differences (µs) |");
    console.log("|---|---:|---:|---:|");
    brokers.forEach((b, i) => {
      const saved = i === 0 || i === brokers.length - 1 ? "" : median(runs[0]!.map((x, r) => x - runs[i]![r]!)).toFixed(0);
      console.log(`| ${b.name} | ${m[i]!.toFixed(0)} | ${(m[i]! - floor).toFixed(0)} | ${saved} |`);
    });
    const model = /Model name:\s*(.*)/.exec(execSync("lscpu").toString())?.[1] ?? os.cpus()[0]?.model;
    console.log(`machine: ${model}, nproc ${os.cpus().length}, node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}; ${new Date().toISOString()}; ${ROUNDS} rounds of ${N}`);
  } finally {
    for (const b of brokers) await b.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
