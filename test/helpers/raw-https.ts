import tls from "node:tls";

export interface RawHttpReply {
  readonly status: number;
  /** Header lines exactly as they came off the wire (name case preserved). */
  readonly headerLines: readonly string[];
  readonly body: string;
  /** Case-insensitive lookup, for assertions about values. */
  header(name: string): string | undefined;
}

/**
 * One HTTP/1.1 request written byte for byte over a fresh TLS connection, for
 * request targets that curl and node's client would normalize or refuse, and
 * for reading header names as they are on the wire.
 */
export function rawHttps(port: number, caPem: string, requestLine: string, o: { headers?: readonly string[]; body?: string | Buffer; cert?: string; key?: string } = {}): Promise<RawHttpReply> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca: caPem, servername: "localhost", cert: o.cert, key: o.key }, () => {
      const body = o.body === undefined ? Buffer.alloc(0) : Buffer.from(o.body);
      const head = [requestLine, "Host: localhost", "Connection: close", ...(o.headers ?? []), ...(o.body === undefined ? [] : [`Content-Length: ${body.length}`])];
      s.end(Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`), body]));
    });
    const chunks: Buffer[] = [];
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", reject);
    s.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const sep = text.indexOf("\r\n\r\n");
      if (sep < 0) return reject(new Error(`no complete response to ${JSON.stringify(requestLine)}: ${JSON.stringify(text.slice(0, 200))}`));
      const lines = text.slice(0, sep).split("\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
      const headerLines = lines.slice(1);
      resolve({
        status, headerLines, body: text.slice(sep + 4),
        header: (name) => headerLines.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.replace(/^[^:]*:\s*/, ""),
      });
    });
  });
}

/** Header names as sent. */
export const headerNames = (r: RawHttpReply) => r.headerLines.map((l) => l.slice(0, l.indexOf(":")));
