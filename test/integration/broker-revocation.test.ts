import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import mqtt, { type IClientOptions } from "mqtt";
import { CLI, startTestGateway, type TestGateway } from "../../testkit/gateway.js";
import { issueDirect, type Credential } from "../../testkit/certs.js";
import { revokeDevice } from "../../enroll/fleet.js";
import { openStore } from "../../db/open.js";
import { attempt, closed, connect, logged, opts, run, until } from "./broker-helpers.js";
import { sq } from "../../testkit/registry.js";

let g: TestGateway;
before(async () => {
  g = await startTestGateway();
});
after(async () => {
  await g.close();
});

test("a device revoked from the CLI (another process) is disconnected within 1 s and cannot reconnect", async () => {
  const c = issueDirect(g.gw.deps, "cli-dev");
  const client = await connect(g, c, "cli-dev");
  const closedAt = closed(client, 20_000);
  const r = await run(process.execPath, [CLI, "devices", "revoke", "cli-dev", "--data", g.dataDir, "--reason", "keyCompromise"]);
  assert.equal(r.code, 0, r.stderr);
  const entry = sq(g.gw.deps.store).sync.revocations.since(0).find((e) => e.deviceId === "cli-dev");
  assert.ok(entry, "the CLI wrote the revocation log");
  const lag = (await closedAt) - entry.at;
  assert.ok(lag <= 1000, `disconnected ${lag} ms after the revocation (README "MQTT": within 1 s)`);
  assert.ok(logged(g, "FG_DEVICE_REVOKED").some((l) => l.deviceId === "cli-dev" && l.source === "log"));
  const again = await attempt(g, c, "cli-dev");
  assert.deepEqual(again.kind === "connack" ? again.code : again.kind, 5);
});

test("a device revoked in this process (event) is disconnected within 1 s", async () => {
  const c = issueDirect(g.gw.deps, "ev-dev");
  const client = await connect(g, c, "ev-dev");
  const closedAt = closed(client, 5000);
  const t0 = Date.now();
  await revokeDevice(g.gw.deps, "ev-dev", "superseded", "test");
  const lag = (await closedAt) - t0;
  assert.ok(lag <= 1000, `disconnected after ${lag} ms`);
});

/** Connects once with an optional TLS session; reports CONNACK, whether TLS resumed, and the new session ticket. */
function tlsAttempt(c: Credential, clientId: string, session?: Buffer): Promise<{ code: number | string; reused: boolean; ticket?: Buffer }> {
  return new Promise((resolve) => {
    // MQTT.js hands its options to tls.connect, so `session` resumes a TLS session.
    const client = mqtt.connect(g.mqttUrl, opts(g, c, clientId, (session ? { session } : {}) as IClientOptions));
    const stream = client.stream as TLSSocket;
    let reused = false;
    let ticket: Buffer | undefined;
    stream.on("secureConnect", () => (reused = stream.isSessionReused()));
    stream.on("session", (s: Buffer) => (ticket = s));
    let finished = false;
    const finish = (code: number | string) => {
      if (finished) return;
      finished = true;
      // TLS 1.3 tickets arrive after the handshake; give one a moment to land (a resumed session may get none).
      const done = () => {
        client.end(true);
        resolve({ code, reused, ticket });
      };
      if (ticket || code !== 0) done();
      else {
        const t = setTimeout(done, 500);
        stream.once("session", () => (clearTimeout(t), setImmediate(done)));
      }
    };
    client.on("connect", () => finish(0));
    client.on("error", (e: Error & { code?: unknown }) => finish(typeof e.code === "number" ? e.code : e.message));
    client.on("close", () => finish("closed"));
  });
}

test("a revoked device cannot get back in through a resumed TLS session", async () => {
  const c = issueDirect(g.gw.deps, "res-dev");
  const first = await tlsAttempt(c, "res-dev");
  assert.equal(first.code, 0);
  assert.ok(first.ticket, "the server issued a session ticket");
  const resumed = await tlsAttempt(c, "res-dev", first.ticket);
  assert.equal(resumed.code, 0);
  assert.equal(resumed.reused, true, "TLS session resumption works before the revocation");
  await revokeDevice(g.gw.deps, "res-dev", "keyCompromise", "test");
  const after = await tlsAttempt(c, "res-dev", resumed.ticket ?? first.ticket);
  assert.equal(after.reused, true, "the TLS layer resumed the session (no full handshake)");
  assert.equal(after.code, 5, "yet CONNACK is 5: revocation is checked on every CONNECT");
});

test("revoking one service certificate (log entry without device) closes that service's sessions only", async () => {
  const bad = issueDirect(g.gw.deps, "svc-r", { role: "service" });
  const good = issueDirect(g.gw.deps, "svc-k", { role: "service" });
  const a = await connect(g, bad, "svc-r");
  const b = await connect(g, good, "svc-k");
  const closedAt = closed(a, 5000);
  // As another process would: mark the certificate revoked and append to the log.
  const other = openStore(path.join(g.dataDir, "gateway.db"));
  try {
    const now = Date.now();
    await other.transaction(async (tx) => {
      sq(other).db.prepare("UPDATE certificates SET status = 'revoked', revoked_at = ? WHERE serial = ?").run(now, bad.serial);
      await tx.revocations.append(null, bad.serial, now);
    });
    const lag = (await closedAt) - now;
    assert.ok(lag <= 1000, `disconnected after ${lag} ms`);
  } finally {
    other.close();
  }
  assert.ok(b.connected);
  b.end(true);
  // The certificate was admitted (and cached) before; the log entry must have dropped it.
  const again = await attempt(g, bad, "svc-r");
  assert.deepEqual(again.kind === "connack" ? again.code : again.kind, 5);
  const still = await attempt(g, good, "svc-k");
  assert.deepEqual(still.kind === "connack" ? still.code : still.kind, 0);
});

test("online and last seen are kept for `devices list`, written in batches", async () => {
  const c = issueDirect(g.gw.deps, "pres-dev");
  const t0 = Date.now();
  const client = await connect(g, c, "pres-dev");
  const row = await until(() => {
    const r = sq(g.gw.deps.store).sync.devices.get("pres-dev");
    return r?.online && r.lastSeen !== null ? r : undefined;
  }, 10_000, "online mark");
  assert.ok(row.lastSeen! >= t0 - 1000);
  const listed = await run(process.execPath, [CLI, "devices", "list", "--json", "--data", g.dataDir]);
  const view = (JSON.parse(listed.stdout) as { id: string; online: boolean; lastSeen: string | null }[]).find((d) => d.id === "pres-dev");
  assert.equal(view?.online, true);
  assert.ok(view?.lastSeen);
  client.end(true);
  await until(() => sq(g.gw.deps.store).sync.devices.get("pres-dev")?.online === false, 10_000, "offline mark");
});

test("close() disconnects clients and marks this process's devices offline", async () => {
  const g2 = await startTestGateway();
  const c = issueDirect(g2.gw.deps, "close-dev");
  const client = await connect(g2, c, "close-dev");
  const gone = closed(client, 10_000);
  await g2.close();
  await gone;
  const store = openStore(path.join(g2.dataDir, "gateway.db"));
  try {
    const row = sq(store).sync.devices.get("close-dev");
    assert.equal(row?.online, false);
    assert.ok(row?.lastSeen);
  } finally {
    store.close();
  }
});
