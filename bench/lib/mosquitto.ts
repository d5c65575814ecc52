import fs from "node:fs";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { waitForPort } from "./proc.js";
import { freePort } from "../../testkit/ports.js";

export interface MosquittoOptions {
  /** A directory for the config, ACL and logs. */
  readonly dir: string;
  /** PEM bundle of the CAs that issue client certificates (the gateway's root + issuing CA). */
  readonly caFile: string;
  /** Server certificate chain and key (the gateway's, so both brokers do the same TLS work). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly crlFile?: string;
  /** Certificate names with the service role; the ACL gives them the gateway's service rights. */
  readonly services: readonly string[];
  readonly tlsVersion?: "tlsv1.2" | "tlsv1.3";
}

/**
 * The reference operators know: Mosquitto with require_certificate,
 * use_identity_as_username and a pattern ACL equivalent to fleetgate's rules
 * (README "MQTT"). Mosquitto's ACL cannot say "all of devices/<id>/# except
 * commands", so devices may publish to devices/%u/# there: a slightly looser rule.
 */
export async function startMosquitto(o: MosquittoOptions): Promise<{ port: number; child: ChildProcess; stop: () => Promise<void> }> {
  fs.mkdirSync(o.dir, { recursive: true });
  const port = await freePort();
  const acl = [
    "# devices: identity = certificate CN",
    "pattern write devices/%u/#",
    "pattern read devices/%u/commands/#",
    ...o.services.flatMap((s) => ["", `user ${s}`, "topic read devices/#", "topic write devices/+/commands/#"]),
    "",
  ].join("\n");
  fs.writeFileSync(path.join(o.dir, "acl"), acl);
  const conf = [
    // Run as root, Mosquitto 2 switches to the `mosquitto` user, which cannot read a 0700 temp data dir.
    ...(process.getuid?.() === 0 ? ["user root"] : []),
    "per_listener_settings false",
    "persistence false",
    "log_dest none",
    `acl_file ${path.join(o.dir, "acl")}`,
    "allow_anonymous false",
    // Like aedes (which queues without a bound unless the gateway's own guard sheds), queue without a
    // limit, so a QoS 1 comparison measures throughput rather than Mosquitto's drop policy.
    "max_queued_messages 0",
    `listener ${port} 127.0.0.1`,
    `cafile ${o.caFile}`,
    `certfile ${o.certFile}`,
    `keyfile ${o.keyFile}`,
    ...(o.crlFile ? [`crlfile ${o.crlFile}`] : []),
    "require_certificate true",
    "use_identity_as_username true",
    ...(o.tlsVersion ? [`tls_version ${o.tlsVersion}`] : []),
    "",
  ].join("\n");
  const confFile = path.join(o.dir, "mosquitto.conf");
  fs.writeFileSync(confFile, conf);
  const child = spawn("mosquitto", ["-c", confFile], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`mosquitto did not start: ${stderr || (e as Error).message}`);
  }
  return {
    port,
    child,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}
