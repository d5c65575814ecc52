import https from "node:https";

/**
 * The few admin API calls the simulator makes (README "CLI" and "Admin API"), authenticated
 * with the admin client certificate from <data>/admin/. One keep-alive agent:
 * a drill revoking many devices reuses its TLS connections.
 */
export interface AdminReply {
  readonly status: number;
  readonly body: string;
  /** When the request had been written out (clock ms): from here on the gateway can act on it. */
  readonly sentAt: number;
}

export class AdminApi {
  private readonly agent: https.Agent;

  constructor(private readonly baseUrl: string, cred: { certPem: string; keyPem: string }, caPem: string, private readonly clock: () => number, private readonly timeoutMs = 10_000) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 16, cert: cred.certPem, key: cred.keyPem, ca: caPem, minVersion: "TLSv1.2" });
  }

  /** POST /api/v1/devices/:id/revoke with {"reason": ...}. */
  revoke(deviceId: string, reason = "unspecified"): Promise<AdminReply> {
    return this.request("POST", `/api/v1/devices/${encodeURIComponent(deviceId)}/revoke`, JSON.stringify({ reason }));
  }

  /** GET /api/v1/devices/:id (a 404 is an answer too). */
  device(deviceId: string): Promise<AdminReply> {
    return this.request("GET", `/api/v1/devices/${encodeURIComponent(deviceId)}`);
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, body?: string): Promise<AdminReply> {
    return new Promise<AdminReply>((resolve, reject) => {
      let sentAt = NaN;
      const req = https.request(new URL(path, this.baseUrl), {
        method,
        agent: this.agent,
        timeout: this.timeoutMs,
        headers: body === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        // 'finish' can come after the answer when the gateway answers within the same tick
        // as the write completes; then the time end() was called stands in (the socket was free).
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), sentAt: Number.isNaN(sentAt) ? endedAt : sentAt }));
      });
      let endedAt = NaN;
      req.on("finish", () => (sentAt = this.clock()));
      req.on("timeout", () => req.destroy(new Error(`admin API ${method} ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on("error", reject);
      endedAt = this.clock();
      req.end(body);
    });
  }
}
