import crypto from "node:crypto";
import https from "node:https";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import type { TestGateway } from "../../testkit/gateway.js";
import { createToken } from "../../enroll/tokens.js";
import { buildCsr } from "./hostile-csr.js";

/**
 * Real command-line tools (curl, openssl) driven the way RFC 7030 Appendix A
 * does. Always asynchronous: the gateway under test runs in this process, so a
 * blocking spawn would stall the server it is talking to.
 */
export interface Run { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: string[], input?: string | Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: "utf8", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      const code = (err as { code?: unknown }).code;
      // A number is the tool's exit status; anything else (ENOENT, a signal) means it did not run properly.
      if (typeof code === "number") resolve({ code, stdout, stderr });
      else reject(err);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Runs a tool and fails loudly (with its stderr) when it exits non-zero. */
export async function ok(cmd: string, args: string[], input?: string | Buffer): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface CurlResult { status: number; headers: Record<string, string>; body: Buffer }

/** curl against the test gateway, trusting only its root (--cacert pki/ca.pem). */
export async function curl(t: TestGateway, est: string, extra: string[], dir: string): Promise<CurlResult> {
  const bodyFile = path.join(dir, `body-${crypto.randomBytes(4).toString("hex")}`);
  const headFile = `${bodyFile}.h`;
  const url = `${t.estUrl}${est.startsWith("/") ? est : `/.well-known/est/${est}`}`;
  const out = await ok("curl", ["-sS", "--cacert", t.paths.rootCert, "-o", bodyFile, "-D", headFile, "-w", "%{http_code}", ...extra, url]);
  const headers: Record<string, string> = {};
  for (const line of fs.readFileSync(headFile, "utf8").split(/\r?\n/).slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(out.trim()), headers, body: fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile) : Buffer.alloc(0) };
}

/** `openssl req` key + CSR (P-256), written as key.pem, csr.der and line-wrapped csr.b64 under dir/name. */
export async function opensslCsr(dir: string, name: string, subj: string, extra: string[] = []): Promise<{ keyFile: string; b64File: string; der: Buffer }> {
  const base = path.join(dir, name);
  const keyFile = `${base}.key.pem`;
  await ok("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile, "-subj", subj, "-outform", "DER", "-out", `${base}.csr.der`, ...extra]);
  await ok("openssl", ["base64", "-in", `${base}.csr.der`, "-out", `${base}.csr.b64`]);
  return { keyFile, b64File: `${base}.csr.b64`, der: fs.readFileSync(`${base}.csr.der`) };
}

/** A certs-only PKCS#7 answer (base64) to PEM certificates via openssl, as RFC 7030 Appendix A shows. */
export async function pkcs7ToPem(dir: string, b64: Buffer): Promise<string> {
  const f = path.join(dir, `p7-${crypto.randomBytes(4).toString("hex")}`);
  fs.writeFileSync(`${f}.b64`, b64);
  await ok("openssl", ["base64", "-d", "-in", `${f}.b64`, "-out", `${f}.der`]);
  return ok("openssl", ["pkcs7", "-inform", "DER", "-in", `${f}.der`, "-print_certs"]);
}

export function ecKey() {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { privateKey, keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
}

/** A fresh key and a CSR for cn. */
export function csrFor(cn: string, o: { requestCa?: boolean; extraSubject?: ReadonlyArray<readonly [string, string]> } = {}) {
  const k = ecKey();
  return { ...k, der: buildCsr({ cn, privateKey: k.privateKey, ...o }) };
}

export async function token(t: TestGateway, deviceId: string, ttlSeconds = 3600): Promise<string> {
  return (await createToken(t.gw.deps, deviceId, ttlSeconds, "test")).token;
}

/** Every log line that refused a request with this code. */
export function refusals(t: TestGateway, code: string) {
  return t.logs.lines().filter((l) => l.code === code);
}

export interface RawReply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** Any request to the EST prefix, exactly as given (for bodies and headers no proper client would send). */
export function rawEst(t: TestGateway, method: string, op: string, o: { headers?: Record<string, string>; body?: string | Buffer; certPem?: string; keyPem?: string } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${t.estUrl}/.well-known/est/${op}`, {
      method, headers: o.headers ?? {}, ca: t.caPem, cert: o.certPem, key: o.keyPem, agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
