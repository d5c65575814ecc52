import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.js";
import type { ReadinessReport } from "./readiness.js";
import type { Logger } from "../log.js";

const pathOf = (url: string | undefined): string => (url ?? "").split("?", 1)[0]!;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body) + "\n");
}

/**
 * Plain HTTP bound to 127.0.0.1 only (README "Metrics"): Prometheus text on GET
 * /metrics, liveness on GET /healthz (200 while the process answers) and
 * readiness on GET /readyz (200 when `readiness` says ready, else 503 with the
 * report, so a load balancer routes around this node).
 */
export async function startMetricsServer(o: {
  metrics: Metrics; port: number; log: Logger; beforeScrape?: () => Promise<void>; readiness?: () => Promise<ReadinessReport>;
}) {
  const server = http.createServer((req, res) => {
    const path = pathOf(req.url);
    if (req.method === "GET" && path === "/healthz") return json(res, 200, { status: "ok" });
    if (req.method === "GET" && path === "/readyz") {
      const report = o.readiness ? o.readiness() : Promise.resolve<ReadinessReport>({ ready: true, state: "serving", checks: {} });
      report.then(
        (r) => json(res, r.ready ? 200 : 503, { status: r.ready ? "ready" : "not ready", state: r.state, checks: r.checks }),
        (e: unknown) => {
          o.log.error({ err: e, code: "FG_INTERNAL" }, "readiness evaluation failed");
          json(res, 503, { status: "not ready", checks: {} });
        },
      );
      return;
    }
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const refresh = o.beforeScrape ? o.beforeScrape().catch((e: unknown) => o.log.warn({ err: e }, "metrics refresh failed")) : Promise.resolve();
    refresh.then(() => o.metrics.registry.metrics()).then(
      (text) => res.writeHead(200, { "content-type": o.metrics.registry.contentType }).end(text),
      (e: unknown) => {
        o.log.error({ err: e, code: "FG_INTERNAL" }, "metrics scrape failed");
        res.writeHead(500, { "content-type": "text/plain" }).end("internal error\n");
      },
    );
  });
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
