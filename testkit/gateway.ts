import "reflect-metadata";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { resolveConfig, type GatewayConfig } from "../config.js";
import { createLogger } from "../log.js";
import { startGateway, type RunningGateway } from "../runtime/gateway.js";
import type { BrokerOptions } from "../broker/server.js";
import { initDataDir } from "../runtime/datadir.js";
import { pkiPaths } from "../pki/data-dir-files.js";
import { LogSink } from "./log-sink.js";

export const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../cli.js");

export function tmpDir(prefix = "fg-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestGateway {
  readonly gw: RunningGateway;
  readonly config: GatewayConfig;
  readonly dataDir: string;
  readonly logs: LogSink;
  readonly paths: ReturnType<typeof pkiPaths>;
  readonly caPem: string;
  readonly estUrl: string;
  readonly mqttUrl: string;
  close(): Promise<void>;
}

/** Flags every test gateway uses: loopback only, ephemeral ports (never another address). */
export function testFlags(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { data: dataDir, host: "127.0.0.1", "https-port": "0", "mqtts-port": "0", "metrics-port": "0", "log-level": "debug", ...extra };
}

/**
 * Creates a gateway data directory the way `gateway start` does (database, PKI,
 * admin credential) without starting listeners, for tests that drive the CLI.
 */
export async function initTestDataDir(dataDir = tmpDir()): Promise<string> {
  const config = resolveConfig(testFlags(dataDir), {});
  await (await initDataDir(config, createLogger({ level: "silent" }), Date.now)).store.close();
  return dataDir;
}

/** Starts a real gateway in this process on 127.0.0.1 with ports 0 and a fresh data dir. */
export async function startTestGateway(extra: Record<string, string> = {}, dataDir = tmpDir(), brokerOptions: BrokerOptions = {}): Promise<TestGateway> {
  const config = resolveConfig(testFlags(dataDir, extra), {});
  const logs = new LogSink();
  const log = createLogger({ level: config.logLevel, destination: logs });
  const gw = await startGateway(config, log, Date.now, brokerOptions);
  const paths = pkiPaths(dataDir);
  return {
    gw, config, dataDir, logs, paths,
    caPem: fs.readFileSync(paths.rootCert, "utf8"),
    estUrl: `https://127.0.0.1:${gw.httpsPort}`,
    mqttUrl: `mqtts://127.0.0.1:${gw.mqttsPort}`,
    close: () => gw.close(),
  };
}

export interface SpawnedGateway {
  readonly child: ChildProcess;
  readonly ready: { httpsPort: number; mqttsPort: number; metricsPort: number };
  readonly stdout: string[];
  readonly stderr: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `gateway start` as a real child process and waits for its ready line. */
export async function spawnGateway(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000, nodeArgs: string[] = []): Promise<SpawnedGateway> {
  // nodeArgs go before the script, e.g. ["--cpu-prof"] (NODE_OPTIONS refuses it).
  const child = spawn(process.execPath, [...nodeArgs, CLI, "start", ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = await new Promise<SpawnedGateway["ready"]>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Do not leave a gateway running that nobody holds a handle to.
      child.kill("SIGKILL");
      reject(new Error(`no ready line within ${timeoutMs} ms; stderr: ${stderr.join("")}`));
    }, timeoutMs);
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        stdout.push(line);
        try {
          const j = JSON.parse(line) as { msg?: string; httpsPort: number; mqttsPort: number; metricsPort: number };
          if (j.msg === "ready") {
            clearTimeout(timer);
            resolve({ httpsPort: j.httpsPort, mqttsPort: j.mqttsPort, metricsPort: j.metricsPort });
          }
        } catch { /* not JSON */ }
      }
    });
    child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before ready; stderr: ${stderr.join("")}`));
    });
  });
  return {
    child, ready, stdout, stderr,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
