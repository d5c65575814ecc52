/**
 * `npm run bench:tls-memory` (issue 7): where the memory of an idle mTLS
 * connection goes in Node, below any MQTT code. For each variant of the
 * gateway's TLS server settings, a fresh process runs a bare node:tls server
 * (the gateway's certificate and CAs) and a child process opens N idle
 * connections to it (real TLS clients with device certificates). The server
 * process reports its RSS and V8 heap per connection after GC and a settle time.
 * Env: BENCH_CONNS (default 2000), BENCH_SETTLE_MS (default 3000).
 */
import "reflect-metadata";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import crypto from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { resolveConfig } from "../config.js";
import { initDataDir } from "../runtime/datadir.js";
import { silentLogger } from "../log.js";
import { issueDirect } from "../testkit/certs.js";
import { tmpDir } from "../testkit/gateway.js";
import { sleep } from "./lib/util.js";
import { gatewayTlsOptions } from "./lib/tls-server-options.js";

const N = Number(process.env.BENCH_CONNS ?? 2000);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 3000);
const self = new URL(import.meta.url).pathname;

const VARIANTS: Record<string, { label: string; server: tls.TlsOptions; client: Partial<tls.ConnectionOptions> }> = {
  gateway: { label: "as the gateway: TLS 1.3, client certificate, session tickets", server: {}, client: {} },
  noTickets: { label: "TLS 1.3, client certificate, no session tickets (SSL_OP_NO_TICKET)", server: { secureOptions: crypto.constants.SSL_OP_NO_TICKET }, client: {} },
  tls12: { label: "TLS 1.2, client certificate, session tickets", server: {}, client: { maxVersion: "TLSv1.2" } },
  noClientCert: { label: "TLS 1.3, no client certificate, session tickets", server: { requestCert: false, rejectUnauthorized: false }, client: {} },
};

/** One variant, in this (fresh) process: the server here, the clients in a child. */
async function measure(dataDir: string, variant: string): Promise<void> {
  const v = VARIANTS[variant]!;
  const server = tls.createServer({ ...gatewayTlsOptions(dataDir), ...v.server }, (s) => {
    s.on("error", () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  await sleep(SETTLE_MS);
  gc();
  const m0 = process.memoryUsage();
  const child = spawn(process.execPath, [self, "--clients", dataDir, String((server.address() as { port: number }).port), JSON.stringify(v.client)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => { if (String(d).includes("ready")) resolve(); });
    child.once("exit", (code) => reject(new Error(`clients exited with ${code}`)));
  });
  await sleep(SETTLE_MS);
  gc();
  await sleep(SETTLE_MS);
  const m1 = process.memoryUsage();
  const per = (k: keyof NodeJS.MemoryUsage) => (m1[k] - m0[k]) / 1024 / N;
  process.stdout.write(JSON.stringify({ variant, rss: per("rss"), heapUsed: per("heapUsed"), external: per("external") }) + "\n");
  child.kill();
  server.close();
  process.exit(0);
}

/** The client side: N idle TLS connections with device certificates, 20 at a time. */
async function clients(dataDir: string, port: number, extra: Partial<tls.ConnectionOptions>): Promise<void> {
  const creds = JSON.parse(fs.readFileSync(path.join(dataDir, "creds.json"), "utf8")) as { cert: string; key: string }[];
  const ca = fs.readFileSync(path.join(dataDir, "pki", "ca.pem"), "utf8");
  const ctxs = creds.map((c) => tls.createSecureContext({ cert: c.cert, key: c.key, ca }));
  const keep: tls.TLSSocket[] = [];
  const one = (i: number) => new Promise<void>((resolve, reject) => {
    const s = tls.connect({ port, host: "127.0.0.1", secureContext: ctxs[i % ctxs.length], checkServerIdentity: () => undefined, ...extra }, () => resolve());
    s.on("error", reject);
    keep.push(s);
  });
  for (let i = 0; i < N; i += 20) await Promise.all(Array.from({ length: Math.min(20, N - i) }, (_, k) => one(i + k)));
  process.stdout.write("ready\n");
  setInterval(() => {}, 1 << 30);
}

async function main() {
  const dataDir = tmpDir("fg-tlsmem-");
  try {
    const config = resolveConfig({ data: dataDir, host: "127.0.0.1" }, {});
    const dir = await initDataDir(config, silentLogger(), Date.now);
    const creds = Array.from({ length: 50 }, (_, i) => {
      const c = issueDirect({ ca: dir.ca, store: dir.store, config }, `d${i}`);
      return { cert: c.certPem, key: c.keyPem };
    });
    fs.writeFileSync(path.join(dataDir, "creds.json"), JSON.stringify(creds));
    dir.store.close();
    console.log(`| node:tls server, ${N} idle connections | RSS KiB per connection | V8 heap used KiB per connection |`);
    console.log("|---|---:|---:|");
    for (const [key, v] of Object.entries(VARIANTS)) {
      const out = execFileSync(process.execPath, ["--expose-gc", self, "--measure", dataDir, key], { encoding: "utf8" });
      const r = JSON.parse(out.trim().split("\n").pop()!) as { rss: number; heapUsed: number };
      console.log(`| ${v.label} | ${r.rss.toFixed(1)} | ${r.heapUsed.toFixed(1)} |`);
    }
    console.log(`\nmachine: ${os.cpus()[0]?.model}, nproc ${os.cpus().length}, node ${process.version} (OpenSSL ${process.versions.openssl}); ${new Date().toISOString()}`);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === "--measure") await measure(a!, b!);
else if (mode === "--clients") await clients(a!, Number(b), JSON.parse(c!) as Partial<tls.ConnectionOptions>);
else await main();
