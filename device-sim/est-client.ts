import "reflect-metadata";
import https from "node:https";
import { children, decodeOid, readWhole } from "../pki/der-reader.js";
import { toPem } from "../pki/der.js";

/**
 * A small EST client (RFC 7030, RFC 8951) for devices and the fleet simulator.
 * node:https directly, no framework: the simulator runs thousands of these.
 * Bodies are base64 DER; certs-only PKCS#7 answers are read with a small DER walk
 * (a first-boot storm reads thousands; @peculiar/x509 took ~2 ms per answer).
 */
export interface EstClientOptions {
  /** e.g. https://127.0.0.1:8443 (the /.well-known/est/ prefix is added). */
  readonly baseUrl: string;
  /** The trust anchor for the server certificate (the gateway's root, pki/ca.pem). */
  readonly caPem: string | Buffer;
  /** Connection reuse policy; default: a new connection for every request (agent: false). */
  readonly agent?: https.Agent;
  /** Per request, for the whole exchange (default 30 000 ms). */
  readonly timeoutMs?: number;
}

/** A refusal from the server: the HTTP status, the one-line reason, and Retry-After (seconds) when sent. */
export class EstError extends Error {
  readonly status: number;
  readonly body: string;
  readonly retryAfter?: number;

  constructor(status: number, body: string, retryAfter?: number) {
    super(`EST ${status}: ${body.trim()}`);
    this.name = "EstError";
    this.status = status;
    this.body = body;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

type Credentials = { deviceId: string; token: string } | { certPem: string; keyPem: string };

interface Reply { status: number; contentType: string; body: string }

const CERTS_ONLY_TYPE = "application/pkcs7-mime";

function retryAfterOf(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/** The certificates of a base64 certs-only PKCS#7 (RFC 7030 §4.1.3), as PEM. */
export function certsFromPkcs7Base64(b64: string): string[] {
  const der = Buffer.from(b64.replace(/\s+/g, ""), "base64");
  // ContentInfo { contentType signedData, [0] EXPLICIT SignedData { version, digestAlgorithms,
  // encapContentInfo, [0] IMPLICIT certificates, ... } } (RFC 5652 §3, §5.1)
  const bad = (): never => {
    throw new Error("EST answer is not a certs-only PKCS#7");
  };
  const ci = readWhole(der, 0x30) ?? bad();
  const [type, explicit] = children(der, ci) ?? bad();
  if (!type || decodeOid(der, type) !== "1.2.840.113549.1.7.2" || explicit?.tag !== 0xa0) bad();
  const [signedData] = children(der, explicit!) ?? bad();
  if (signedData?.tag !== 0x30) bad();
  const certs = (children(der, signedData!) ?? bad()).find((t) => t.tag === 0xa0);
  return certs ? (children(der, certs) ?? bad()).map((c) => toPem(der.subarray(c.at, c.end), "CERTIFICATE")) : [];
}

export class EstClient {
  private readonly base: URL;
  private readonly timeoutMs: number;

  constructor(private readonly opts: EstClientOptions) {
    this.base = new URL("/.well-known/est/", opts.baseUrl);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** GET cacerts: the CA certificates the gateway publishes (issuing CA and root), PEM. */
  async cacerts(): Promise<string[]> {
    const r = await this.request("GET", "cacerts");
    this.expect(r, 200, CERTS_ONLY_TYPE);
    return certsFromPkcs7Base64(r.body);
  }

  /** GET csrattrs: DER of the CsrAttrs (RFC 7030 §4.5.2), or null when the server has none (204). */
  async csrattrs(): Promise<Buffer | null> {
    const r = await this.request("GET", "csrattrs");
    if (r.status === 204) return null;
    this.expect(r, 200, "application/csrattrs");
    return Buffer.from(r.body.replace(/\s+/g, ""), "base64");
  }

  /** POST simpleenroll with a token (HTTP Basic) or a manufacturer certificate (TLS); returns the issued certificate, PEM. */
  simpleEnroll(csrDer: Buffer, auth: Credentials): Promise<string> {
    return this.enroll("simpleenroll", csrDer, auth);
  }

  /** POST simplereenroll with the current certificate and key as TLS client credentials. */
  simpleReenroll(csrDer: Buffer, cred: { certPem: string; keyPem: string }): Promise<string> {
    return this.enroll("simplereenroll", csrDer, cred);
  }

  private async enroll(op: string, csrDer: Buffer, auth: Credentials): Promise<string> {
    const r = await this.request("POST", op, csrDer.toString("base64"), auth);
    this.expect(r, 200, CERTS_ONLY_TYPE);
    const certs = certsFromPkcs7Base64(r.body);
    if (certs.length !== 1) throw new EstError(r.status, `expected one certificate, got ${certs.length}`);
    return certs[0]!;
  }

  private expect(r: Reply, status: number, type: string): void {
    if (r.status !== status) throw new EstError(r.status, r.body);
    if (!r.contentType.toLowerCase().startsWith(type)) throw new EstError(r.status, `unexpected content type ${r.contentType}`);
  }

  private request(method: "GET" | "POST", op: string, body?: string, auth?: Credentials): Promise<Reply> {
    const url = new URL(op, this.base);
    const headers: Record<string, string> = {};
    let cert: string | undefined;
    let key: string | undefined;
    if (auth && "token" in auth) headers.authorization = `Basic ${Buffer.from(`${auth.deviceId}:${auth.token}`).toString("base64")}`;
    else if (auth) ({ certPem: cert, keyPem: key } = auth);
    if (body !== undefined) {
      headers["content-type"] = "application/pkcs10";
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => req.destroy(new Error(`EST ${op}: no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      const req = https.request(url, {
        method, headers, ca: this.opts.caPem, cert, key,
        agent: this.opts.agent ?? false,
        minVersion: "TLSv1.2",
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", fail);
        res.on("end", () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString("utf8");
          if (status >= 400) reject(new EstError(status, text, retryAfterOf(res.headers["retry-after"])));
          else resolve({ status, contentType: String(res.headers["content-type"] ?? ""), body: text });
        });
      });
      req.on("error", fail);
      req.end(body);
    });
  }
}
