import http from "node:http";

/**
 * Response header names in their canonical case on the wire. RFC 9110 §5.1 makes
 * field names case-insensitive, but fastify lowercases every name it is given
 * and some EST clients (Cisco libest among them) compare names byte for byte,
 * so `content-type` would go unseen. Pure mapping plus a ServerResponse that applies it.
 */
const SPECIAL: Readonly<Record<string, string>> = {
  "www-authenticate": "WWW-Authenticate",
  "etag": "ETag",
  "content-md5": "Content-MD5",
  "x-content-type-options": "X-Content-Type-Options",
  "strict-transport-security": "Strict-Transport-Security",
};

export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return SPECIAL[lower] ?? lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

type HeadersArg = http.OutgoingHttpHeaders | http.OutgoingHttpHeader[] | undefined;

function canonicalHeaders(h: HeadersArg): HeadersArg {
  if (h === undefined) return h;
  if (Array.isArray(h)) {
    // Flat [name, value, name, value, ...] form.
    return h.map((v, i) => (i % 2 === 0 && typeof v === "string" ? canonicalHeaderName(v) : v));
  }
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[canonicalHeaderName(k)] = v;
  return out;
}

/** Pass as the server's `ServerResponse` option: every header name set or written goes out canonical. */
export class CanonicalHeaderResponse<Req extends http.IncomingMessage = http.IncomingMessage> extends http.ServerResponse<Req> {
  override setHeader(name: string, value: number | string | readonly string[]): this {
    return super.setHeader(canonicalHeaderName(name), value);
  }
}

// writeHead has overloads TypeScript cannot override in a class body; wrap it on the prototype.
type WriteHead = (this: http.ServerResponse, status: number, a?: unknown, b?: unknown) => http.ServerResponse;
const writeHead = http.ServerResponse.prototype.writeHead as WriteHead;
const canonicalWriteHead: WriteHead = function (status, a, b) {
  if (typeof a === "string") return writeHead.call(this, status, a, canonicalHeaders(b as HeadersArg));
  return writeHead.call(this, status, canonicalHeaders(a as HeadersArg));
};
(CanonicalHeaderResponse.prototype as unknown as { writeHead: WriteHead }).writeHead = canonicalWriteHead;
