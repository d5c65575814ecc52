import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { MqttConnector, secureContextFor } from "../../device-sim/connector.js";
import { ensurePki } from "../../enroll/pki.js";
import { toPem } from "../../pki/der.js";
import { silentLogger } from "../../log.js";
import { foreignCa } from "../../testkit/certs.js";
import { tmpDir } from "../../testkit/gateway.js";

/** A TLS server with the gateway's kind of server certificate (SANs localhost, 127.0.0.1) that records whether bytes arrived. */
async function tlsServer() {
  const pki = ensurePki({ dataDir: tmpDir("fg-sim-conn-"), hostnames: ["localhost", "127.0.0.1"], curve: "P-256", clock: Date.now, log: silentLogger() });
  let received = 0;
  const server = tls.createServer({ key: pki.serverKeyPem, cert: pki.serverCertChainPem }, (s) => {
    s.on("data", (d: Buffer) => (received += d.length));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, rootPem: toPem(pki.rootDer, "CERTIFICATE"), received: () => received, close: () => server.close() };
}

function attempt(connector: MqttConnector, ctx: tls.SecureContext): Promise<{ error?: string; closed: boolean }> {
  return new Promise((resolve) => {
    const c = connector.create("dev-x", ctx);
    let error: string | undefined;
    c.on("error", (e: Error & { code?: unknown }) => (error ??= String(e.code ?? e.message)));
    c.on("close", () => {
      c.end(true);
      resolve({ ...(error === undefined ? {} : { error }), closed: true });
    });
  });
}

test("connector: the gateway's certificate is verified (chain and name) before a byte of MQTT is sent", async () => {
  const srv = await tlsServer();
  const id = foreignCa().issue("dev-x");
  const opts = { keepaliveS: 60, connectTimeoutMs: 1500 };
  try {
    // Trusted chain, right name: the CONNECT goes out (the server does not answer it; the connect times out).
    const good = secureContextFor(id.keyPem, id.certPem, srv.rootPem);
    await attempt(new MqttConnector({ host: "127.0.0.1", port: srv.port }, opts), good);
    assert.ok(srv.received() > 0, "CONNECT was sent");
    const before = srv.received();
    // Right chain, wrong name: refused by the name check.
    const wrongName = await attempt(new MqttConnector({ host: "127.0.0.1", port: srv.port, servername: "gateway.example" }, opts), good);
    assert.equal(wrongName.error, "ERR_TLS_CERT_ALTNAME_INVALID");
    // Untrusted chain (another CA as the anchor): refused by OpenSSL's verification.
    const other = secureContextFor(id.keyPem, id.certPem, foreignCa().certPem);
    const untrusted = await attempt(new MqttConnector({ host: "127.0.0.1", port: srv.port }, opts), other);
    assert.match(untrusted.error ?? "", /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED/);
    assert.equal(srv.received(), before, "nothing was sent to a server that failed verification");
  } finally {
    srv.close();
  }
});
