/**
 * Issue 11 points 10b and 10c: both listeners offer only AEAD suites with
 * forward secrecy (RFC 9325 §4.2), never CCM-8, and TLS sessions (tickets) are
 * resumable for TLS_SESSION_SECONDS only, as the README says.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { startTestGateway, testFlags, tmpDir, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, type Credential } from "../../testkit/certs.js";
import { LogSink } from "../../testkit/log-sink.js";
import { pemFiles, run } from "./broker-helpers.js";
import { resolveConfig } from "../../config.js";
import { createLogger } from "../../log.js";
import { startGateway, type RunningGateway } from "../../runtime/gateway.js";
import { pkiPaths } from "../../pki/data-dir-files.js";
import { TLS_SESSION_SECONDS } from "../../front/tls-policy.js";

let g: TestGateway;
let dir: string;
let caFile: string;
let device: Credential;
let files: { cert: string; key: string };

before(async () => {
  g = await startTestGateway();
  dir = tmpDir("fg-tls-policy-");
  caFile = path.join(dir, "ca.pem");
  fs.writeFileSync(caFile, g.caPem);
  device = issueDirect(g.gw.deps, "pol-dev");
  files = pemFiles(dir, "pol-dev", device);
});
after(async () => g.close());

const ports = () => ({ https: g.gw.httpsPort, mqtts: g.gw.mqttsPort });

/** openssl s_client with the given version/suite flags (device certificate presented); the negotiated cipher or null. */
async function negotiated(port: number, args: string[]): Promise<string | null> {
  const r = await run("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", "-CAfile", caFile, "-cert", files.cert, "-key", files.key, ...args], 30_000);
  const m = /New, (TLSv1\.[23]|\(NONE\)), Cipher is (\S+)/.exec(r.stdout);
  assert.ok(m, `s_client said: ${r.stdout.slice(0, 400)} ${r.stderr.slice(0, 400)}`);
  return m[2] === "(NONE)" ? null : m[2]!;
}

const refused12 = [
  "ECDHE-ECDSA-AES128-SHA", // CBC, SHA-1 MAC
  "ECDHE-ECDSA-AES256-SHA",
  "ECDHE-ECDSA-AES128-SHA256", // CBC
  "ECDHE-ECDSA-AES128-CCM8", // 8-byte tag
  "ECDHE-ECDSA-AES128-CCM",
  "AES128-GCM-SHA256", // no forward secrecy
  "AES128-SHA",
  "DHE-RSA-AES128-GCM-SHA256",
];
const accepted12 = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"];

for (const port of ["https", "mqtts"] as const) {
  test(`${port}: TLS 1.2 refuses CBC, SHA-1, CCM, CCM-8 and non-forward-secret suites`, async () => {
    for (const c of refused12) assert.equal(await negotiated(ports()[port], ["-tls1_2", "-cipher", c]), null, `${c} must be refused`);
  });
  test(`${port}: TLS 1.2 accepts ECDHE with AES-GCM and ChaCha20-Poly1305`, async () => {
    for (const c of accepted12) assert.equal(await negotiated(ports()[port], ["-tls1_2", "-cipher", c]), c);
  });
  test(`${port}: TLS 1.3 refuses TLS_AES_128_CCM_8_SHA256 and TLS_AES_128_CCM_SHA256, accepts the GCM and ChaCha20 suites`, async () => {
    assert.equal(await negotiated(ports()[port], ["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"]), null);
    assert.equal(await negotiated(ports()[port], ["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"]), null);
    for (const c of ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]) {
      assert.equal(await negotiated(ports()[port], ["-tls1_3", "-ciphersuites", c]), c);
    }
  });
  test(`${port}: TLS 1.1 is refused`, async () => {
    const r = await run("openssl", ["s_client", "-connect", `127.0.0.1:${ports()[port]}`, "-tls1_1", "-CAfile", caFile], 30_000);
    assert.doesNotMatch(r.stdout, /Cipher is (?!\(NONE\))/);
  });

  for (const v of ["tls1_2", "tls1_3"] as const) {
    test(`${port}: a ${v} session ticket announces a ${TLS_SESSION_SECONDS} s lifetime`, async () => {
      const sess = path.join(dir, `${port}-${v}.sess`);
      // -ign_eof keeps s_client reading until the server's NewSessionTicket (TLS 1.3 sends it after the handshake) has arrived.
      await run("sh", ["-c", `(sleep 1) | openssl s_client -connect 127.0.0.1:${ports()[port]} -${v} -servername localhost -CAfile ${caFile} -cert ${files.cert} -key ${files.key} -sess_out ${sess} -ign_eof >/dev/null 2>&1`], 30_000);
      const r = await run("openssl", ["sess_id", "-in", sess, "-noout", "-text"]);
      assert.match(r.stdout, new RegExp(`ticket lifetime hint: ${TLS_SESSION_SECONDS} \\(seconds\\)`), r.stdout + r.stderr);
    });
  }
}

type Resumed = { reused: boolean; session: Buffer | undefined };

/** The shortened lifetime of the expiry test: long enough that a loaded machine still resumes within it. */
const LIFETIME_S = 5;

test("a session older than its lifetime is not resumed (full handshake), on both listeners and both TLS versions", async () => {
  const dataDir = tmpDir();
  const config = { ...resolveConfig(testFlags(dataDir), {}), tlsSessionSeconds: LIFETIME_S };
  const gw: RunningGateway = await startGateway(config, createLogger({ level: "warn", destination: new LogSink() }));
  try {
    const paths = pkiPaths(dataDir);
    const caPem = fs.readFileSync(paths.rootCert, "utf8");
    assert.ok(caPem);
    const dev = issueDirect(gw.deps, "pol-old");
    /** One TLS connection, optionally resuming `o.session`: whether it resumed, and the newest session. */
    const conn = (port: number, o: { session?: Buffer; maxVersion: tls.SecureVersion }) =>
      new Promise<Resumed>((resolve, reject) => {
        let session: Buffer | undefined;
        const s = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: caPem, session: o.session, maxVersion: o.maxVersion, cert: dev.certPem, key: dev.keyPem });
        s.on("session", (b: Buffer) => (session = b));
        s.once("error", reject);
        s.once("secureConnect", () => {
          const reused = s.isSessionReused();
          // TLS 1.3 tickets arrive just after the handshake.
          setTimeout(() => {
            s.destroy();
            resolve({ reused, session: session ?? o.session });
          }, 300);
        });
      });
    const combos = [gw.httpsPort, gw.mqttsPort].flatMap((port) => (["TLSv1.2", "TLSv1.3"] as const).map((maxVersion) => ({ port, maxVersion })));
    const fresh: Resumed[] = [];
    for (const { port, maxVersion } of combos) {
      const first = await conn(port, { maxVersion });
      assert.ok(first.session, "a session ticket was issued");
      const again = await conn(port, { maxVersion, session: first.session });
      assert.equal(again.reused, true, `${port} ${maxVersion}: a fresh ticket resumes`);
      fresh.push(again);
    }
    // Every ticket is now older than the configured lifetime (the bound is generous: OpenSSL counts whole seconds).
    await new Promise((r) => setTimeout(r, (LIFETIME_S + 3) * 1000));
    for (const [i, { port, maxVersion }] of combos.entries()) {
      const stale = await conn(port, { maxVersion, session: fresh[i]!.session });
      assert.equal(stale.reused, false, `${port} ${maxVersion}: a ticket older than the lifetime must not resume`);
    }
  } finally {
    await gw.close();
  }
});
