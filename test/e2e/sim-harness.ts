import { spawn } from "node:child_process";
import { EstClient } from "../../device-sim/est-client.js";
import { runSim } from "../../device-sim/main.js";
import { simOptionsFrom } from "../../device-sim/options.js";
import type { FleetReport } from "../../device-sim/fleet.js";
import { CLI, type TestGateway } from "../../testkit/gateway.js";

/** Runs the simulator in this process through the same path as the CLI (options -> runSim), with the real EST client. */
export async function simInProcess(gw: TestGateway, flags: Record<string, string>) {
  const stderr: string[] = [];
  const stdout: string[] = [];
  const opts = simOptionsFrom({ data: gw.dataDir, est: gw.estUrl, mqtt: gw.mqttUrl, ...flags });
  const r = await runSim(opts, { err: (s) => stderr.push(s), out: (s) => stdout.push(s) }, { makeEst: (o) => new EstClient(o) });
  return { ...r, stderr: stderr.join(""), stdout: stdout.join("") };
}

/**
 * Runs `gateway sim` as a real child process and parses the JSON report from its stdout.
 * With `interruptWhen`, sends SIGINT once the progress on stderr satisfies it.
 */
export function simCli(args: string[], timeoutMs = 120_000, interruptWhen?: (stderr: string) => boolean): Promise<{ code: number | null; report: FleetReport | undefined; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "sim", ...args], { env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    let interrupted = false;
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (interruptWhen && !interrupted && interruptWhen(stderr)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`gateway sim did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      let report: FleetReport | undefined;
      try {
        report = stdout.trim() ? (JSON.parse(stdout) as FleetReport) : undefined;
      } catch {
        report = undefined;
      }
      resolve({ code, report, stdout, stderr });
    });
  });
}

export const REPORT_KEYS = ["devices", "enrolled", "connected", "published", "delivered", "failures", "enrollPerSec", "connectPerSec", "latencyMs"];
