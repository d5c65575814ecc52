import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startTestGateway } from "../../testkit/gateway.js";
import { issueDirect } from "../../testkit/certs.js";
import { httpsRequest } from "../helpers/https.js";
import { openStore } from "../../db/open.js";
import { connect } from "./broker-helpers.js";
import { sq } from "../../testkit/registry.js";

interface Row { type: string; deviceId: string | null; detail: Record<string, unknown> | null }

test("a device in a connect/disconnect loop writes few audit rows; a revocation among them is found by type", async () => {
  const g = await startTestGateway();
  const admin = { cert: fs.readFileSync(g.paths.adminCert, "utf8"), key: fs.readFileSync(g.paths.adminKey, "utf8") };
  const api = (p: string, method = "GET", json?: unknown) => httpsRequest(`${g.estUrl}${p}`, { ca: g.caPem, method, json, ...admin });
  const audit = async (q: string) => {
    const r = await api(`/api/v1/audit?${q}`);
    assert.equal(r.status, 200, r.text());
    return r.json<Row[]>();
  };
  let closed = false;
  try {
    const looper = issueDirect(g.gw.deps, "looper");
    issueDirect(g.gw.deps, "victim");
    for (let i = 0; i < 100; i++) {
      if (i === 50) assert.equal((await api("/api/v1/devices/victim/revoke", "POST", { reason: "keyCompromise" })).status, 200);
      const c = await connect(g, looper, "looper");
      await c.endAsync();
    }
    // Presence and its audit rows are written in batches about once a second.
    const rows = await (async () => {
      let last: Row[] = [];
      for (let i = 0; i < 40 && !last.some((r) => r.type === "mqtt.disconnected"); i++) {
        last = await audit("deviceId=looper&limit=1000");
        await new Promise((r) => setTimeout(r, 250));
      }
      return last;
    })();
    const isPresence = (r: { type: string }) => r.type === "mqtt.connected" || r.type === "mqtt.disconnected";
    const presence = rows.filter(isPresence);
    // Before: 200 rows (one per connect and per disconnect).
    assert.ok(presence.length >= 2 && presence.length <= 4, `presence rows for 100 cycles: ${presence.length}`);
    assert.deepEqual(presence.map((r) => r.type).reverse().slice(0, 2), ["mqtt.connected", "mqtt.disconnected"]);

    // The revocation is found by its type, and by the security filter, whatever the presence noise.
    const revoked = await audit("type=device.revoked&limit=1");
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]!.deviceId, "victim");
    const security = await audit("security=true&limit=1000");
    assert.ok(security.length > 0 && !security.some(isPresence));
    assert.ok(security.some((r) => r.type === "device.revoked"));
    // What the revocation purged in the broker is a security event too.
    assert.ok(security.some((r) => r.type === "mqtt.session_purged" && r.deviceId === "victim"));
    assert.deepEqual(await audit("security=1&limit=1000"), security);
    assert.equal((await audit("security=false&deviceId=looper&limit=1000")).length, presence.length);
    assert.deepEqual(await audit("type=device.revoked&deviceId=looper"), []);
    assert.equal((await audit("type=mqtt.connected&deviceId=looper")).length, 1);
    // Refused: both filters at once, a malformed type.
    assert.equal((await api("/api/v1/audit?type=device.revoked&security=true")).status, 400);
    assert.equal((await api("/api/v1/audit?type=Device%20Revoked")).status, 400);
    assert.equal((await api("/api/v1/audit?security=yes")).status, 400);

    // On shutdown the open window is closed: one more row carries the count of folded cycles.
    await g.close();
    closed = true;
    const store = openStore(path.join(g.dataDir, "gateway.db"));
    try {
      const all = sq(store).sync.audit.query({ limit: 1000, deviceId: "looper" });
      const summary = all.find((e) => e.detail && "suppressedCycles" in e.detail);
      assert.ok(summary, JSON.stringify(all));
      assert.equal(summary.type, "mqtt.disconnected", "the trail ends in the device's real state");
      assert.equal(summary.detail!.suppressedCycles, 99);
      assert.ok(all.length <= 4, `rows after shutdown: ${all.length}`);
    } finally {
      store.close();
    }
  } finally {
    if (!closed) await g.close();
  }
});
