import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import pg from "pg";
import { openRegistry } from "../../db/open.js";
import type { Store } from "../../db/store.js";
import { resolveConfig } from "../../config.js";
import { GatewayError } from "../../errors.js";
import { startTestPostgres, type TestPostgres } from "../../testkit/postgres.js";
import { CLI, startTestGateway, tmpDir } from "../../testkit/gateway.js";
import { httpsRequest } from "../helpers/https.js";
import { EstClient } from "../../device-sim/est-client.js";
import { buildCsr } from "../helpers/hostile-csr.js";
import { attempt, connect } from "./broker-helpers.js";

/**
 * The registry on PostgreSQL (db/postgres/), against a throwaway server this
 * file starts (testkit/postgres.ts): the repository contract, exactly-once
 * token consumption across two stores ("nodes"), the append-only audit trail,
 * and one full enrollment story through a gateway started with --database.
 */
let server: TestPostgres;
before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await server?.stop();
});

const open = async (url: string): Promise<Store> => openRegistry({ database: url, file: "/nonexistent/never-used.db" });

/** A self-signed certificate PEM (the registry stores and fingerprints it). */
function selfSigned(cn: string): string {
  const dir = tmpDir("fg-pgcert-");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${cn}`, "-days", "2",
    "-keyout", path.join(dir, "k.pem"), "-out", path.join(dir, "c.pem")], { stdio: "ignore" });
  return fs.readFileSync(path.join(dir, "c.pem"), "utf8");
}

test("repository contract on PostgreSQL: devices, certificates, tokens, revocations, transactions", async () => {
  const s = await open(await server.createDatabase());
  try {
    const now = Date.now();
    // devices
    await s.devices.ensure("dev-b", now);
    await s.devices.ensure("dev-a", now);
    await s.devices.ensure("dev-a", now + 5);
    assert.deepEqual((await s.devices.list()).map((d) => d.id), ["dev-a", "dev-b"]);
    assert.equal((await s.devices.get("dev-a"))!.createdAt, now, "ensure leaves an existing row as it is");
    await s.devices.recordPresence([{ id: "dev-a", at: now + 10, online: true }, { id: "dev-a", at: now + 5, online: true }]);
    const a = (await s.devices.get("dev-a"))!;
    assert.equal(a.online, true);
    assert.equal(a.lastSeen, now + 10, "last_seen never goes back");
    assert.equal(await s.devices.get("nope"), undefined);

    // certificates
    const pem1 = selfSigned("dev-a");
    const pem2 = selfSigned("dev-a");
    const day = 86_400_000;
    await s.certificates.insert({ serial: "01", role: "device", name: "dev-a", deviceId: "dev-a", notBefore: now, notAfter: now + day, issuedAt: now, pem: pem1 });
    await s.certificates.insert({ serial: "02", role: "device", name: "dev-a", deviceId: "dev-a", notBefore: now, notAfter: now + 2 * day, issuedAt: now + 1, pem: pem2 });
    await s.certificates.insert({ serial: "03", role: "service", name: "svc", deviceId: null, notBefore: now, notAfter: now + day, issuedAt: now, pem: selfSigned("svc") });
    assert.deepEqual(await s.certificates.validOldestFirst("dev-a", now), ["01", "02"]);
    assert.deepEqual((await s.certificates.forDevice("dev-a")).map((c) => c.serial), ["02", "01"]);
    assert.deepEqual(await s.certificates.issuedSince("dev-a", now), [now + 1]);
    assert.equal(await s.certificates.hasValid("dev-a", now), true);
    assert.equal(await s.certificates.hasValid("dev-b", now), false);
    const st = (await s.certificates.standing("01"))!;
    assert.deepEqual({ ...st, fingerprint: undefined }, { role: "device", name: "dev-a", deviceId: "dev-a", status: "valid", deviceStatus: "active", fingerprint: undefined });
    const der = new crypto.X509Certificate(pem1).raw;
    assert.equal(st.fingerprint, crypto.createHash("sha256").update(der).digest("hex"));
    const spki = crypto.createHash("sha256").update(new crypto.X509Certificate(pem1).publicKey.export({ type: "spki", format: "der" })).digest("hex");
    assert.equal(await s.certificates.keyCertifiedElsewhere(spki, "device", "dev-a"), false);
    assert.equal(await s.certificates.keyCertifiedElsewhere(spki, "device", "dev-z"), true, "the key fingerprint was derived from the PEM");
    assert.equal(await s.certificates.credentialRole("svc"), "service");
    assert.deepEqual(await s.certificates.credentialNames(), [{ name: "svc", role: "service" }]);
    assert.deepEqual((await s.certificates.credentials()).map((c) => c.serial), ["03"]);
    assert.equal(await s.certificates.countDevicesExpiring(now, 3 * day), 1);
    assert.equal(await s.certificates.countDevicesExpiring(now, day), 0, "the newest valid certificate counts");
    assert.equal(await s.certificates.supersede("01", now), true);
    assert.equal(await s.certificates.supersede("01", now), false);
    assert.deepEqual(await s.certificates.revokeCredential("svc", "keyCompromise", now), ["03"]);
    assert.deepEqual(await s.certificates.revokeForDevice("dev-a", "keyCompromise", now), ["02"]);
    assert.equal(await s.devices.revoke("dev-a", "keyCompromise", now), true);
    assert.equal(await s.devices.revoke("dev-a", "keyCompromise", now), false);
    assert.equal((await s.certificates.standing("02"))!.deviceStatus, "revoked");
    assert.deepEqual((await s.certificates.revokedUnexpired(now)).map((c) => [c.serial, c.revocationReason]).sort(),
      [["01", "superseded"], ["02", "keyCompromise"], ["03", "keyCompromise"]]);
    assert.equal((await s.devices.get("dev-a"))!.online, false, "a revoked device is offline");

    // tokens
    await s.tokens.insert("h1", "pre-001", now, now + 1000);
    await s.tokens.insert("h2", "pre-002", now, now + 1000, true);
    await s.tokens.insert("h3", "other", now, now + 1000);
    assert.deepEqual(await s.tokens.idsWithPrefix("pre-"), ["pre-001", "pre-002"]);
    assert.deepEqual(await s.tokens.idsWithPrefix("dev-"), ["dev-a", "dev-b"]);
    assert.equal((await s.tokens.get("h2"))!.reprovision, true);
    assert.equal(await s.tokens.consume("h1", "pre-002", now), false, "another device cannot use it");
    assert.equal(await s.tokens.consume("h1", "pre-001", now, "01"), true);
    assert.equal(await s.tokens.consume("h1", "pre-001", now), false);
    assert.deepEqual({ ...(await s.tokens.get("h1"))! }, { hash: "h1", deviceId: "pre-001", createdAt: now, expiresAt: now + 1000, usedAt: now, issuedSerial: "01", reprovision: false });
    assert.equal(await s.tokens.consume("h3", "other", now + 1000), false, "an expired token is refused");
    assert.equal(await s.tokens.cancelForDevice("pre-002", now), 1);
    assert.deepEqual((await s.tokens.outstanding(now)).map((t) => t.deviceId), ["other"]);
    assert.equal(await s.tokens.everIssued("pre-002"), true);
    assert.equal(await s.tokens.everIssued("dev-a"), false);

    // revocation log and CRL number
    assert.equal(await s.revocations.head(), 0);
    await s.revocations.append("dev-a", "02", now);
    await s.revocations.append(null, "03", now);
    assert.equal(await s.revocations.head(), 2);
    assert.deepEqual(await s.revocations.since(1), [{ seq: 2, deviceId: null, serial: "03", at: now }]);
    assert.equal(await s.revocations.nextCrlNumber(), 1);
    assert.equal(await s.revocations.nextCrlNumber(), 2);

    // audit
    await s.audit.append({ type: "token.created", deviceId: "pre-001", actor: "test", detail: { ttl: 5 }, at: now });
    await s.audit.append({ type: "mqtt.connected", deviceId: "pre-001", at: now + 1 });
    assert.deepEqual((await s.audit.newest(10)).map((e) => e.type), ["mqtt.connected", "token.created"]);
    assert.deepEqual((await s.audit.query({ limit: 10, security: true })).map((e) => e.type), ["token.created"]);
    assert.deepEqual((await s.audit.query({ limit: 10, deviceId: "pre-001", type: "token.created" }))[0]!.detail, { ttl: 5 });
    assert.equal((await s.audit.forDevice("pre-001", 1)).length, 1);

    // transactions: commit on fulfilment, roll back on rejection, tx unusable afterwards
    await s.transaction(async (tx) => tx.devices.ensure("tx-ok", now));
    let leaked: Store["devices"] | undefined;
    await assert.rejects(s.transaction(async (tx) => {
      leaked = tx.devices;
      await tx.devices.ensure("tx-rolled-back", now);
      throw new Error("boom");
    }), /boom/);
    assert.ok(await s.devices.get("tx-ok"));
    assert.equal(await s.devices.get("tx-rolled-back"), undefined);
    await assert.rejects(leaked!.ensure("late", now), /transaction already ended/);
  } finally {
    await s.close();
  }
});

test("one token, 8 concurrent consumers on two stores (two nodes): exactly one wins, every round", async () => {
  const url = await server.createDatabase();
  const [n1, n2] = await Promise.all([open(url), open(url)]);
  try {
    const now = Date.now();
    for (let round = 0; round < 5; round++) {
      const hash = `race-${round}`;
      await n1.tokens.insert(hash, "dev-race", now, now + 60_000);
      // Half consume in a transaction (as enrollment does), half bare; alternating nodes.
      const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => {
        const s = i % 2 === 0 ? n1 : n2;
        return i % 4 < 2 ? s.transaction((tx) => tx.tokens.consume(hash, "dev-race", now, `serial-${i}`)) : s.tokens.consume(hash, "dev-race", now, `serial-${i}`);
      }));
      assert.equal(wins.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(wins)}`);
      const row = (await n2.tokens.get(hash))!;
      assert.equal(row.issuedSerial, `serial-${wins.indexOf(true)}`, "the winner's serial is the one recorded");
    }
  } finally {
    await Promise.all([n1.close(), n2.close()]);
  }
});

test("the audit trail is append-only in PostgreSQL itself: UPDATE, DELETE and TRUNCATE are refused", async () => {
  const url = await server.createDatabase();
  const s = await open(url);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await s.audit.append({ type: "token.created", deviceId: "d1" });
    await assert.rejects(c.query("UPDATE audit_events SET type = 'x'"), /append-only/);
    await assert.rejects(c.query("DELETE FROM audit_events"), /append-only/);
    await assert.rejects(c.query("TRUNCATE audit_events"), /append-only/);
    assert.equal((await s.audit.newest(10)).length, 1);
    assert.deepEqual((await c.query("SELECT version FROM schema_version")).rows, [{ version: 1 }]);
  } finally {
    await c.end();
    await s.close();
  }
});

test("two nodes opening a fresh database at once migrate it once", async () => {
  const url = await server.createDatabase();
  const stores = await Promise.all([open(url), open(url), open(url)]);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    assert.deepEqual((await c.query("SELECT version FROM schema_version")).rows, [{ version: 1 }]);
  } finally {
    await c.end();
    await Promise.all(stores.map((s) => s.close()));
  }
});

test("--database accepts only postgres:// and postgresql:// URLs; anything else is a usage error (exit 2)", () => {
  for (const ok of ["postgres://u@h/db", "postgresql://u:p@h:5432/db"]) assert.equal(resolveConfig({ database: ok }, {}).database, ok);
  assert.equal(resolveConfig({}, { GATEWAY_DATABASE_URL: "postgres://h/db" }).database, "postgres://h/db");
  assert.equal(resolveConfig({}, {}).database, undefined, "absent: SQLite in the data directory");
  for (const bad of ["sqlite:///x.db", "mysql://h/db", "./gateway.db", "postgres:/h", "http://u:secret@h/db"]) {
    assert.throws(() => resolveConfig({ database: bad }, {}), (e: unknown) => e instanceof GatewayError && e.code === "FG_CONFIG_INVALID" && !e.message.includes("secret"), bad);
  }
  const r = spawnSync(process.execPath, [CLI, "devices", "list", "--data", tmpDir(), "--database", "mysql://h/db"], { encoding: "utf8" });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--database/);
});

test("a gateway on --database postgres://: token, EST enrollment, CONNACK 0, admin API revoke kicks the device", async () => {
  const url = await server.createDatabase();
  const g = await startTestGateway({ database: url });
  try {
    assert.equal(fs.existsSync(path.join(g.dataDir, "gateway.db")), false, "no SQLite file: the registry is in PostgreSQL");
    const admin = { cert: fs.readFileSync(g.paths.adminCert, "utf8"), key: fs.readFileSync(g.paths.adminKey, "utf8") };
    const api = (p: string, json?: unknown) => httpsRequest(`${g.estUrl}${p}`, { ca: g.caPem, ...admin, ...(json === undefined ? {} : { method: "POST", json }) });
    const tok = (await api("/api/v1/tokens", { deviceId: "pg-1", ttlSeconds: 600 })).json<{ token: string }>();
    const est = new EstClient({ baseUrl: g.estUrl, caPem: g.caPem });
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const certPem = await est.simpleEnroll(buildCsr({ cn: "pg-1", privateKey }), { deviceId: "pg-1", token: tok.token });
    const serial = new crypto.X509Certificate(certPem).serialNumber.toLowerCase();

    // Committed in PostgreSQL, seen by another connection.
    const other = await open(url);
    try {
      const c = (await other.certificates.forDevice("pg-1"))[0]!;
      assert.equal(c.serial.toLowerCase().replace(/^0+/, ""), serial.replace(/^0+/, ""));
      assert.equal((await other.tokens.outstanding(Date.now())).length, 0, "the token is used");
    } finally {
      await other.close();
    }

    const client = await connect(g, { certPem, keyPem }, "pg-1");
    await client.publishAsync("devices/pg-1/telemetry", "hello", { qos: 1 });
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    const rev = await api("/api/v1/devices/pg-1/revoke", { reason: "keyCompromise" });
    assert.equal(rev.status, 200);
    await closed;
    const again = await attempt(g, { certPem, keyPem }, "pg-1");
    assert.ok(again.kind !== "connack" || again.code !== 0, "a revoked device cannot reconnect");
    assert.equal((await api("/api/v1/devices/pg-1")).json<{ status: string }>().status, "revoked");

    // The CLI on the same --database sees the same registry (the data directory holds only the PKI).
    const r = spawnSync(process.execPath, [CLI, "devices", "list", "--json", "--data", g.dataDir, "--database", url], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { id: string; status: string }[]).map((d) => [d.id, d.status]), [["pg-1", "revoked"]]);
  } finally {
    await g.close();
  }
});
