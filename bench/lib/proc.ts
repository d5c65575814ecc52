import fs from "node:fs";
import net from "node:net";
import { execFileSync } from "node:child_process";

/** Clock ticks per second of /proc/<pid>/stat's times (sysconf(_SC_CLK_TCK); 100 on Linux in practice). */
export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU time (user + system) a process has used, in microseconds, from /proc/<pid>/stat (whole clock ticks). */
export function cpuMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  return (ticks * 1e6) / CLK_TCK;
}

/** Resident set size in KiB, from /proc/<pid>/status. */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Runs fn and returns the CPU µs the process `pid` spent meanwhile. */
export async function cpuDuring<T>(pid: number, fn: () => Promise<T>): Promise<{ cpuUs: number; result: T; wallMs: number }> {
  const c0 = cpuMicros(pid);
  const t0 = performance.now();
  const result = await fn();
  const wallMs = performance.now() - t0;
  // Let the broker finish the work the last packets caused before reading its counters.
  await new Promise((r) => setTimeout(r, 200));
  return { cpuUs: cpuMicros(pid) - c0, result, wallMs };
}

export function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} not listening after ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}
