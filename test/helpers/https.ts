import https from "node:https";

export interface HttpsResult { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; json<T = unknown>(): T; text(): string }

/** One HTTPS request on a fresh connection, optionally with a client certificate. */
export function httpsRequest(url: string, o: { method?: string; body?: string | Buffer; headers?: Record<string, string>; ca: string; cert?: string; key?: string; json?: unknown } ): Promise<HttpsResult> {
  const body = o.json !== undefined ? JSON.stringify(o.json) : o.body;
  const headers = { ...(o.json !== undefined ? { "content-type": "application/json" } : {}), ...o.headers };
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: o.method ?? "GET", headers, ca: o.ca, cert: o.cert, key: o.key, agent: false, servername: "localhost" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: <T>() => JSON.parse(b.toString()) as T, text: () => b.toString() });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
