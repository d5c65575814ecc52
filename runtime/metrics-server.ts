import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.js";
import type { Logger } from "../log.js";

/** Prometheus text on GET /metrics, plain HTTP bound to 127.0.0.1 only (README "Configuration"). */
export async function startMetricsServer(o: { metrics: Metrics; port: number; log: Logger; beforeScrape?: () => Promise<void> }) {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || (req.url !== "/metrics" && !req.url?.startsWith("/metrics?"))) {
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
