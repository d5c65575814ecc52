import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { GatewayError } from "../errors.js";
import { AdminApi } from "./admin-client.js";
import { targetFromUrl } from "./connector.js";
import { anchoredClock, clockAnchor } from "./clock.js";
import { SimDataDir } from "./data-dir.js";
import type { BootstrapAuth, EstPort } from "./device.js";
import { Fleet, type FleetReport } from "./fleet.js";
import type { SimOptions } from "./options.js";
import { reportExitCode } from "./report.js";
import { makeScenario, type Revoker } from "./scenarios/index.js";
import type { Scenario } from "./fleet.js";
import { MemoryCredentials, StateDir } from "./state.js";
import { deviceIds, mintTokens, parseTokensCsv } from "./tokens.js";

/** What the simulator needs from outside: where to write, and how to make an EST client. */
export interface SimIo {
  /** Progress lines and notes (stderr in the CLI). */
  readonly err: (s: string) => void;
  /** The JSON report when there is no --out (stdout in the CLI). */
  readonly out: (s: string) => void;
}

export interface EstFactoryOptions {
  readonly baseUrl: string;
  readonly caPem: string;
  readonly agent?: https.Agent;
  readonly timeoutMs?: number;
}

export interface SimRuntime {
  readonly makeEst: (o: EstFactoryOptions) => EstPort;
  /** Replaces the scenario named in the options (benchmarks stop at their own milestone). */
  readonly scenario?: Scenario;
  readonly clock?: () => number;
  readonly random?: () => number;
  /** Aborting ends the run early, with a report. */
  readonly signal?: AbortSignal;
}

export const TOKEN_TTL_SECONDS = 24 * 3600;


/**
 * The simulator's composition root: turns validated options into a fleet
 * (device ids, bootstrap credentials, --state, EST client, service
 * subscriber, scenario), runs it, and writes the report (device-sim/README.md).
 */
export async function runSim(o: SimOptions, io: SimIo, rt: SimRuntime): Promise<{ report: FleetReport; exitCode: number; fleet: Fleet }> {
  const clock = rt.clock ?? anchoredClock(clockAnchor());
  const data = o.data ? SimDataDir.open(o.data) : undefined;
  const agents: https.Agent[] = [];
  let admin: AdminApi | undefined;
  try {
    const caPem = o.ca ? fs.readFileSync(o.ca, "utf8") : data!.caPem;
    const fromFile = o.tokens ? parseTokensCsv(readText(o.tokens, "--tokens")) : undefined;
    let ids: string[];
    if (fromFile) {
      const n = o.devices ?? fromFile.length;
      if (n > fromFile.length) throw new GatewayError("FG_USAGE", `--devices ${n} but ${o.tokens} has only ${fromFile.length} tokens`);
      ids = fromFile.slice(0, n).map((t) => t.deviceId);
    } else {
      ids = deviceIds(o.prefix, o.devices ?? 10);
    }
    if (o.revoke > ids.length && o.scenario === "revoke-drill") throw new GatewayError("FG_USAGE", `--revoke ${o.revoke} is more than the ${ids.length} devices`);

    const bootstrap = async (need: readonly string[]): Promise<Map<string, BootstrapAuth>> => {
      const out = new Map<string, BootstrapAuth>();
      if (fromFile) {
        const byId = new Map(fromFile.map((t) => [t.deviceId, t.token]));
        for (const id of need) {
          const token = byId.get(id);
          if (token) out.set(id, { token });
        }
      } else if (o.idevid) {
        for (const id of need) {
          const cred = readIdevid(o.idevid, id);
          if (cred) out.set(id, cred);
        }
      } else if (data) {
        const minted = await mintTokens(data.store, need, TOKEN_TTL_SECONDS, Date.now);
        for (const [id, token] of minted.tokens) out.set(id, { token });
        if (minted.refused.size > 0) io.err(`sim: the registry refused tokens for ${minted.refused.size} device(s) (e.g. ${[...minted.refused][0]!.join(": ")})\n`);
      }
      return out;
    };

    // Token enrollments carry no client certificate, so they can share kept-alive
    // connections; anything authenticated by a certificate gets a connection of its own.
    const pooled = new https.Agent({ keepAlive: true, maxSockets: Math.min(o.concurrency, 256), ca: caPem, minVersion: "TLSv1.2" });
    agents.push(pooled);
    const estBase = o.est.toString();
    const estPooled = rt.makeEst({ baseUrl: estBase, caPem, agent: pooled });
    const estFresh = rt.makeEst({ baseUrl: estBase, caPem });
    const est: EstPort = {
      simpleEnroll: (csr, auth) => ("token" in auth ? estPooled : estFresh).simpleEnroll(csr, auth),
      simpleReenroll: (csr, cred) => estFresh.simpleReenroll(csr, cred),
    };

    const observer = data
      ? { ...(await data.issueServiceCredential("sim", new URL("/crl", o.est).toString())), clientId: `sim-${process.pid}-${crypto.randomBytes(3).toString("hex")}` }
      : undefined;

    let revoke: Revoker | undefined;
    if (data) {
      const dd = data;
      // Through the admin API, as an operator would: the gateway closes the sessions it serves.
      revoke = async (id) => {
        admin ??= new AdminApi(o.est.origin, dd.adminCredential(), caPem, clock);
        const r = await admin.revoke(id);
        if (r.status >= 200 && r.status < 300) return { via: "admin-api", sentAt: r.sentAt };
        throw new Error(`admin API refused to revoke ${id}: ${r.status} ${r.body.trim()}`);
      };
    }

    const fleet = new Fleet({
      ids, concurrency: o.concurrency, rate: o.rate, durationMs: o.durationS * 1000, startTimeoutMs: o.startTimeoutS * 1000, qos: o.qos, payloadBytes: o.payloadBytes,
      mqtt: targetFromUrl(o.mqtt), caPem, renewAt: o.renewAt,
    }, {
      clock, random: rt.random ?? Math.random, est,
      creds: o.state ? StateDir.open(o.state) : new MemoryCredentials(),
      bootstrap,
      ...(observer ? { observer } : {}),
      progress: (line) => io.err(`${line}\n`),
      ...(rt.signal ? { signal: rt.signal } : {}),
    });
    const report = await fleet.run(rt.scenario ?? makeScenario(o.scenario, { revokeCount: o.revoke, ...(revoke ? { revoke } : {}) }));
    const retries = [...fleet.stats.retries].map(([k, v]) => `${k} ${v}`).join(", ");
    if (retries) io.err(`sim: retried: ${retries}\n`);
    const json = JSON.stringify(report) + "\n";
    if (o.out) fs.writeFileSync(o.out, json);
    else io.out(json);
    return { report, exitCode: reportExitCode(report), fleet };
  } finally {
    admin?.close();
    for (const a of agents) a.destroy();
    await data?.close();
  }
}

/**
 * A device's manufacturer credential (IDevID, IEEE 802.1AR) from --idevid DIR:
 * <id>.pem and <id>.key. A device without one has no way to enroll (noCredential).
 */
function readIdevid(dir: string, id: string): BootstrapAuth | undefined {
  try {
    return { certPem: fs.readFileSync(path.join(dir, `${id}.pem`), "utf8"), keyPem: fs.readFileSync(path.join(dir, `${id}.key`), "utf8") };
  } catch {
    return undefined;
  }
}

function readText(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new GatewayError("FG_USAGE", `cannot read ${flag} ${file}: ${(e as Error).message}`);
  }
}
