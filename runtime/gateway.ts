import type { GatewayConfig } from "../config.js";
import type { Logger } from "../log.js";
import { GatewayEvents, type Deps } from "./deps.js";
import { crlUrlFor, initDataDir } from "./datadir.js";
import { createMetrics } from "./metrics.js";
import { startMetricsServer } from "./metrics-server.js";
import { Lifecycle, evaluateReadiness, type ReadinessCheck, type ReadinessReport } from "./readiness.js";
import { runDrain } from "./drain.js";
import { startHttps } from "../enroll/https-server.js";
import { PeerCertCache } from "../pki/peer.js";
import { startBroker, type BrokerOptions } from "../broker/server.js";

export interface RunningGateway {
  readonly httpsPort: number;
  readonly mqttsPort: number;
  readonly metricsPort: number;
  readonly deps: Deps;
  /** What GET /readyz answers (503 when not ready). */
  readiness(): Promise<ReadinessReport>;
  /** Drains and closes everything in the order README "Configuration" states (SIGINT/SIGTERM); idempotent. */
  close(): Promise<void>;
}

const EXPIRY_WATCH_MS = 7 * 86_400_000;

/**
 * The composition root: opens the data directory, then starts the HTTPS (EST,
 * admin API, CRL), MQTTS and metrics listeners, and wires the collaborators
 * together. Nothing here decides policy.
 */
export async function startGateway(config: GatewayConfig, log: Logger, clock: () => number = Date.now, brokerOptions: BrokerOptions = {}): Promise<RunningGateway> {
  let httpsPort = config.httpsPort;
  const dir = await initDataDir(config, log, clock, () => crlUrlFor(config, httpsPort));
  const deps: Deps = { config, store: dir.store, ca: dir.ca, log, clock, events: new GatewayEvents() };
  const metrics = createMetrics();
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        log.error({ err: e }, "error while closing");
      }
    }
  };
  closers.push(async () => dir.store.close());
  try {
    // One classification of TLS peers, and one verdict cache, for both listeners (pki/peer.ts).
    const verdicts = new PeerCertCache(dir.pki.issuingDer);
    const https = await startHttps({ ...deps, metrics, pki: dir.pki, verdicts });
    httpsPort = https.port;
    closers.push(https.close);
    const broker = await startBroker({ ...deps, metrics, pki: dir.pki, verdicts }, brokerOptions);
    closers.push(() => broker.close());
    const lifecycle = new Lifecycle();
    // The named readiness checks; another shared dependency (e.g. Redis) is one more entry.
    const checks: ReadinessCheck[] = [
      { name: "listeners", check: async () => {
        if (!https.app.server.listening || !broker.listening()) throw new Error("a listener is down");
      } },
      { name: "registry", check: () => dir.store.ping() },
    ];
    const readiness = () => evaluateReadiness(lifecycle, checks);
    const metricsServer = await startMetricsServer({
      metrics, port: config.metricsPort, log, readiness,
      beforeScrape: async () => metrics.certificatesExpiring.set({ within: "7d" }, await dir.store.certificates.countDevicesExpiring(clock(), EXPIRY_WATCH_MS)),
    });
    closers.push(metricsServer.close);
    log.info({ httpsPort, mqttsPort: broker.port, metricsPort: metricsServer.port, dataDir: config.dataDir }, "ready");
    // The drain, in this order: readiness fails first (a load balancer stops routing here), both
    // listeners stop accepting, MQTT sessions are closed (devices reconnect elsewhere), HTTPS
    // requests end, the registry closes, and the metrics port (which answered 503 meanwhile) goes last.
    let drained: Promise<void> | undefined;
    const drain = () => (drained ??= runDrain([
      { name: "readiness", run: () => lifecycle.drain() },
      { name: "stop-accepting", run: () => { https.stopAccepting(); broker.stopAccepting(); } },
      { name: "mqtt-sessions", run: () => broker.close() },
      { name: "https", run: () => https.close() },
      { name: "registry", run: () => dir.store.close() },
      { name: "metrics", run: () => metricsServer.close() },
    ], log));
    return { httpsPort, mqttsPort: broker.port, metricsPort: metricsServer.port, deps, readiness, close: drain };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
