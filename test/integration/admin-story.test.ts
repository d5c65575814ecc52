import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import crypto from "node:crypto";
import { startTestGateway } from "../../testkit/gateway.js";
import { httpsRequest } from "../helpers/https.js";
import { EstClient, EstError } from "../../device-sim/est-client.js";
import { buildCsr } from "../helpers/hostile-csr.js";
import { attempt, connect } from "./broker-helpers.js";

/**
 * Issue 5's end-to-end story through the real interfaces: an admin mints a
 * token over the API, the device enrolls over EST, connects over MQTT, the admin
 * revokes it over the API, it is kicked within 1 s, cannot reconnect or
 * re-enroll, and the audit trail and the metrics tell that whole story.
 */
test("token -> enroll -> connect -> revoke: kicked within 1 s, refused after, all audited and counted", async () => {
  const g = await startTestGateway();
  try {
    const admin = { cert: fs.readFileSync(g.paths.adminCert, "utf8"), key: fs.readFileSync(g.paths.adminKey, "utf8") };
    const api = (p: string, json?: unknown) => httpsRequest(`${g.estUrl}${p}`, { ca: g.caPem, ...admin, ...(json === undefined ? {} : { method: "POST", json }) });

    const tok = (await api("/api/v1/tokens", { deviceId: "story-1", ttlSeconds: 600 })).json<{ token: string }>();
    const est = new EstClient({ baseUrl: g.estUrl, caPem: g.caPem });
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const certPem = await est.simpleEnroll(buildCsr({ cn: "story-1", privateKey }), { deviceId: "story-1", token: tok.token });

    const client = await connect(g, { certPem, keyPem }, "story-1");
    await client.publishAsync("devices/story-1/telemetry", "hello", { qos: 1 });
    const online = (await api("/api/v1/devices/story-1")).json<{ online: boolean; status: string }>();
    assert.equal(online.status, "active");

    const closed = new Promise<number>((resolve) => client.once("close", () => resolve(performance.now())));
    const t0 = performance.now();
    const rev = await api("/api/v1/devices/story-1/revoke", { reason: "keyCompromise" });
    assert.equal(rev.status, 200);
    const kickedAfterMs = (await closed) - t0;
    assert.ok(kickedAfterMs < 1000, `kicked after ${kickedAfterMs.toFixed(0)} ms`);

    const again = await attempt(g, { certPem, keyPem }, "story-1");
    assert.ok(again.kind !== "connack" || again.code !== 0, "a revoked device cannot reconnect");
    await assert.rejects(est.simpleReenroll(buildCsr({ cn: "story-1", privateKey }), { certPem, keyPem }), (e: unknown) => e instanceof EstError && e.status === 403);

    // Connect events reach the trail with the broker's next batched write (about a second).
    type Ev = { type: string; actor: string | null; code: string | null };
    let events: Ev[] = [];
    for (let i = 0; i < 50 && !events.some((e) => e.type === "mqtt.disconnected"); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      events = (await httpsRequest(`${g.estUrl}/api/v1/audit?deviceId=story-1&limit=100`, { ca: g.caPem, ...admin })).json<Ev[]>();
    }
    const types = events.map((e) => e.type).reverse();
    const order = ["token.created", "enroll.simpleenroll", "mqtt.connected", "device.revoked", "mqtt.disconnected", "enroll.refused"];
    let at = -1;
    for (const t of order) {
      const i = types.indexOf(t, at + 1);
      assert.ok(i > at, `audit has ${t} after the previous step: ${types.join(", ")}`);
      at = i;
    }
    assert.equal(events.find((e) => e.type === "token.created")!.actor, "admin:admin");
    assert.equal(events.find((e) => e.type === "device.revoked")!.actor, "admin:admin");
    assert.equal(events.find((e) => e.type === "enroll.refused")!.code, "FG_CERT_REVOKED");

    const metrics = await (await fetch(`http://127.0.0.1:${g.gw.metricsPort}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
    assert.equal(value(/^gateway_enrollments_total\{operation="simpleenroll",result="ok"\} (\d+)/m), 1);
    assert.ok(value(/^gateway_mqtt_connects_total\{result="accepted"\} (\d+)/m) >= 1);
    assert.ok(value(/^gateway_revocations_total (\d+)/m) >= 1);
    assert.ok(value(/^gateway_revocation_disconnects_total (\d+)/m) >= 1);
    assert.ok(value(/^gateway_mqtt_messages_in_total (\d+)/m) >= 1);
  } finally {
    await g.close();
  }
});
