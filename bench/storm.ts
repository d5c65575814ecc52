import "reflect-metadata";
import fs from "node:fs";
import os from "node:os";
import { EstClient } from "../device-sim/est-client.js";
import { runSim } from "../device-sim/main.js";
import { simOptionsFrom } from "../device-sim/options.js";
import type { Scenario } from "../device-sim/fleet.js";
import { spawnGateway, testFlags, tmpDir } from "../testkit/gateway.js";
import { cpuMicros, rssKiB } from "./lib/proc.js";

/**
 * bench:storm (issue 6): a first-boot storm. N devices with no certificate
 * enroll over EST, connect over mqtts and publish once, against one gateway
 * running as a child process on the same machine (simulator and gateway share
 * the cores). Prints the time until every device is connected and has
 * published once, enrollments/s, connects/s, p99 end-to-end latency and failures.
 *
 * Environment: STORM_DEVICES (5000), STORM_CONCURRENCY (200), STORM_RATE (0.1 msg/s per device), STORM_LIMIT_S (180),
 * STORM_GATEWAY_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the gateway;
 * run this script with `node --cpu-prof` to profile the simulator).
 */
const N = Number(process.env.STORM_DEVICES ?? 5000);
const C = Number(process.env.STORM_CONCURRENCY ?? 200);
const LIMIT_S = Number(process.env.STORM_LIMIT_S ?? 180);
/** Telemetry per device while the storm runs: the first message goes out on connect, then one every 1/RATE s. */
const RATE = process.env.STORM_RATE ?? "0.1";
const TARGET_S = 60;

/** Ends the run as soon as every device has published once (or gave up). */
function untilAllPublishedOnce(): Scenario & { doneAt: number } {
  const s = {
    name: "storm",
    doneAt: NaN,
    async run(ctl: Parameters<Scenario["run"]>[0]) {
      await ctl.waitFor(() => ctl.devices.every((d) => d.published > 0 || d.state === "failed" || d.state === "revoked"), Number.POSITIVE_INFINITY);
      s.doneAt = ctl.clock();
      ctl.end();
      return undefined;
    },
  };
  return s;
}

async function main() {
  const cpus = os.cpus();
  console.log(`bench:storm  ${new Date().toISOString()}  node ${process.version}  ${cpus[0]?.model} x${cpus.length}  load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`devices ${N}, concurrency ${C}, QoS 1, ${RATE} msg/s per device, gateway in a child process, simulator in this one`);
  const dataDir = tmpDir("fg-storm-");
  // One host stands in for the whole fleet: lift the per-address front-door limits.
  const flags = testFlags(dataDir, { "log-level": "info", "connect-rate-per-address": "1000000", "max-pending-per-address": "1000000" });
  const nodeArgs = process.env.STORM_GATEWAY_NODE_ARGS ? process.env.STORM_GATEWAY_NODE_ARGS.split(" ") : [];
  const gw = await spawnGateway(Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]), {}, 30_000, nodeArgs);
  const gwPid = gw.child.pid!;
  try {
    const opts = simOptionsFrom({
      devices: String(N), concurrency: String(C), rate: RATE, duration: String(LIMIT_S), "start-timeout": String(LIMIT_S), qos: "1", data: dataDir,
      est: `https://127.0.0.1:${gw.ready.httpsPort}`, mqtt: `mqtts://127.0.0.1:${gw.ready.mqttsPort}`, prefix: "storm-",
    });
    const milestone = untilAllPublishedOnce();
    const gwCpu0 = cpuMicros(gwPid);
    const simCpu0 = process.cpuUsage();
    let peakGwRss = 0;
    const rssTimer = setInterval(() => (peakGwRss = Math.max(peakGwRss, rssKiB(gwPid))), 1000);
    const lines: string[] = [];
    const { report, fleet } = await runSim(opts, { err: (s) => { lines.push(s); process.stderr.write(s); }, out: () => {} }, { makeEst: (o) => new EstClient(o), scenario: milestone });
    clearInterval(rssTimer);
    const simCpu = process.cpuUsage(simCpu0);
    const gwCpuS = (cpuMicros(gwPid) - gwCpu0) / 1e6;
    const allMs = milestone.doneAt - fleet.stats.runStartedAt;
    const failures = Object.values(report.failures).reduce((a, b) => a + b, 0);
    const met = Number.isFinite(allMs) && allMs / 1000 < TARGET_S && failures === 0;
    console.log("");
    console.log(`all ${N} devices connected and published once: ${(allMs / 1000).toFixed(1)} s   (target < ${TARGET_S} s with zero failures: ${met ? "met" : "MISSED"})`);
    console.log(`enrollments/s ${report.enrollPerSec}   connects/s ${report.connectPerSec}   p99 latency ${report.latencyMs.p99} ms (p50 ${report.latencyMs.p50}, max ${report.latencyMs.max})`);
    console.log(`enrolled ${report.enrolled}  connected ${report.connected}  published ${report.published}  delivered ${report.delivered}  failures ${JSON.stringify(report.failures)}`);
    console.log(`CPU: gateway ${gwCpuS.toFixed(1)} s, simulator ${((simCpu.user + simCpu.system) / 1e6).toFixed(1)} s; peak RSS gateway ${(peakGwRss / 1024).toFixed(0)} MiB, simulator ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB`);
    const retries = [...fleet.stats.retries].map(([k, v]) => `${k} ${v}`).join(", ");
    if (retries) console.log(`retried: ${retries}`);
    console.log(JSON.stringify(report));
    process.exitCode = met ? 0 : 1;
  } finally {
    await gw.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
