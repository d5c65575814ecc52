import { test } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { spawnGateway, startTestGateway, testFlags } from "../../testkit/gateway.js";
import { issueDirect } from "../../testkit/certs.js";
import { startMetricsServer } from "../../runtime/metrics-server.js";
import { createMetrics } from "../../runtime/metrics.js";
import { Lifecycle, evaluateReadiness } from "../../runtime/readiness.js";
import { createLogger } from "../../log.js";
import { connect as tcp } from "node:net";
import { closed, connect } from "./broker-helpers.js";

async function get(port: number, p: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

test("a spawned gateway answers /healthz 200 and /readyz 200 with its named checks; SIGTERM closes MQTT sessions in order and exits 0", async () => {
  // Make the data dir and a device credential in-process, then run the real CLI on it.
  const setup = await startTestGateway();
  const device = issueDirect(setup.gw.deps, "dev-drain");
  await setup.close();
  const g = await spawnGateway(Object.entries(testFlags(setup.dataDir)).flatMap(([k, v]) => [`--${k}`, v]));
  try {
    const m = g.ready.metricsPort;
    assert.deepEqual(await get(m, "/healthz"), { status: 200, body: { status: "ok" } });
    assert.deepEqual(await get(m, "/readyz"), { status: 200, body: { status: "ready", state: "serving", checks: { listeners: "ok", registry: "ok" } } });
    assert.equal((await fetch(`http://127.0.0.1:${m}/readyz`, { method: "POST" })).status, 404);
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${g.ready.mqttsPort}`, {
      ca: setup.caPem, cert: device.certPem, key: device.keyPem, clientId: "dev-drain", reconnectPeriod: 0, connectTimeout: 15_000, protocolVersion: 4,
    });
    const sawClose = closed(client, 20_000);
    assert.equal(await g.stop("SIGTERM"), 0);
    await sawClose;
    client.end(true);
    const steps = g.stdout.map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } })
      .filter((l) => l.msg === "shutdown step done").map((l) => l.step);
    assert.deepEqual(steps, ["readiness", "stop-accepting", "mqtt-sessions", "https", "registry", "metrics"]);
    assert.ok(g.stdout.some((l) => l.includes('"msg":"stopped"')));
  } finally {
    await g.stop("SIGKILL");
  }
});

test("/readyz answers 503 naming the registry once the registry no longer answers; /healthz stays 200", async () => {
  const t = await startTestGateway();
  try {
    const m = t.gw.metricsPort;
    assert.equal((await get(m, "/readyz")).status, 200);
    await t.gw.deps.store.close();
    assert.deepEqual(await get(m, "/readyz"), { status: 503, body: { status: "not ready", state: "serving", checks: { listeners: "ok", registry: "failed" } } });
    assert.equal((await get(m, "/healthz")).status, 200);
  } finally {
    await t.close();
  }
});

test("during the drain the gateway is not ready before its MQTT sessions close, and new connections are refused", async () => {
  const t = await startTestGateway();
  const device = issueDirect(t.gw.deps, "dev-drain-2");
  const client = await connect(t, device, "dev-drain-2");
  // Observed from the client's side: when its connection closes, readiness already says draining.
  const stateAtClose = new Promise<Awaited<ReturnType<typeof t.gw.readiness>>>((resolve) => client.once("close", () => resolve(t.gw.readiness())));
  const done = t.close();
  const r = await stateAtClose;
  assert.deepEqual(r, { ready: false, state: "draining", checks: {} });
  await done;
  client.end(true);
  // Both listeners released their ports.
  for (const url of [t.estUrl, t.mqttUrl]) {
    const port = Number(new URL(url.replace("mqtts:", "https:")).port);
    const refused = await new Promise<boolean>((resolve) => {
      const s = tcp(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); resolve(false); });
      s.once("error", () => resolve(true));
    });
    assert.ok(refused, `${url} still accepts`);
  }
});

test("the metrics port answers /readyz 503 with state draining over real HTTP", async () => {
  const life = new Lifecycle();
  const srv = await startMetricsServer({ metrics: createMetrics(), port: 0, log: createLogger({ level: "silent" }), readiness: () => evaluateReadiness(life, [{ name: "registry", check: async () => {} }]) });
  try {
    assert.equal((await get(srv.port, "/readyz")).status, 200);
    life.drain();
    assert.deepEqual(await get(srv.port, "/readyz"), { status: 503, body: { status: "not ready", state: "draining", checks: {} } });
    assert.equal((await get(srv.port, "/healthz")).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${srv.port}/metrics?x=1`)).status, 200);
  } finally {
    await srv.close();
  }
});
