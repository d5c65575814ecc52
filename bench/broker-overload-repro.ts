/**
 * Reproduces the plain aedes 1.2.0 crash under a QoS 0 flood, for the record and
 * for an upstream report: `node dist/bench/broker-overload-repro.js [--guard]`.
 *
 * Plain aedes over TLS (the gateway's PKI, no hooks); 50 devices publish QoS 0
 * flat out from a separate process to one wildcard subscriber; the subscriber
 * leaves mid-flood. mqemitter's backlog now holds messages nobody listens to,
 * and draining it recurses (see broker/internals.ts): the process dies with
 * `RangeError: Maximum call stack size exceeded` within seconds. With --guard,
 * the gateway's breakSyncRelease() is installed and the same run survives.
 */
import "reflect-metadata";
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { spawn } from "node:child_process";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { resolveConfig } from "../config.js";
import { initDataDir } from "../runtime/datadir.js";
import { silentLogger } from "../log.js";
import { issueDirect } from "../testkit/certs.js";
import { tmpDir } from "../testkit/gateway.js";
import { breakSyncRelease } from "../broker/internals.js";

const SECONDS = 12;
const guard = process.argv.includes("--guard");
const dataDir = tmpDir("fg-repro-");
const config = resolveConfig({ data: dataDir, host: "127.0.0.1" }, {});
const dir = await initDataDir(config, silentLogger(), Date.now);
const deps = { ca: dir.ca, store: dir.store, config };
const ca = fs.readFileSync(dir.pki.paths.rootCert, "utf8");

const broker = await Aedes.createBroker();
if (guard) breakSyncRelease(broker);
const mq = (broker as unknown as { mq: { length: number } }).mq;
process.on("uncaughtException", (e) => {
  console.log(`CRASHED after ${((performance.now() - t0) / 1000).toFixed(1)} s with router backlog ${mq.length}: ${e.name}: ${e.message}`);
  console.log(e.stack?.split("\n").slice(1, 7).join("\n"));
  process.exit(2);
});
const server = tls.createServer({
  key: dir.pki.serverKeyPem, cert: dir.pki.serverCertChainPem,
  ca: [fs.readFileSync(dir.pki.paths.rootCert), fs.readFileSync(dir.pki.paths.issuingCert)], requestCert: true, rejectUnauthorized: true,
}, broker.handle);
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const url = `mqtts://127.0.0.1:${(server.address() as { port: number }).port}`;

const svc = issueDirect(deps, "svc", { role: "service" });
const sub = await mqtt.connectAsync(url, { ca, cert: svc.certPem, key: svc.keyPem, clientId: "svc", reconnectPeriod: 0 });
let received = 0;
sub.on("message", () => received++);
await sub.subscribeAsync("devices/+/telemetry", { qos: 0 });

const clients = Array.from({ length: 50 }, (_, i) => {
  const c = issueDirect(deps, `d${i}`);
  return { id: `d${i}`, cert: c.certPem, key: c.keyPem };
});
const worker = spawn(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), "../test/integration/broker-flood-worker.js")], { stdio: ["pipe", "pipe", "inherit"] });
worker.stdin!.end(JSON.stringify({ url, ca, clients, seconds: SECONDS, qos: 0, payloadBytes: 64 }));
process.on("exit", () => worker.kill("SIGKILL"));
await new Promise((r) => worker.stdout!.once("data", r));
const t0 = performance.now();
console.log(`plain aedes${guard ? " + breakSyncRelease" : ""}: 50 devices flooding QoS 0, wildcard subscriber attached`);
const tick = setInterval(() => console.log(`t=${((performance.now() - t0) / 1000).toFixed(0)} s  delivered=${received}  router backlog=${mq.length}`), 1000);
setTimeout(() => {
  console.log("wildcard subscriber leaves");
  sub.end(true);
}, 3000);
await new Promise((r) => worker.once("exit", r));
clearInterval(tick);
console.log(`survived ${SECONDS} s of flood; router backlog ${mq.length}`);
server.close();
broker.close();
dir.store.close();
fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
