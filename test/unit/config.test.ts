import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveConfig } from "../../config.js";
import { parseDuration } from "../../runtime/duration.js";
import { GatewayError } from "../../errors.js";

test('defaults follow README "Configuration"', () => {
  const c = resolveConfig({}, {});
  assert.equal(c.host, "0.0.0.0");
  assert.equal(c.httpsPort, 8443);
  assert.equal(c.mqttsPort, 8883);
  assert.equal(c.metricsPort, 9464);
  assert.deepEqual(c.hostnames, ["localhost", "127.0.0.1"]);
  assert.equal(c.certDays, 30);
  assert.equal(c.bootstrapCaFile, undefined);
  assert.match(c.dataDir, /\/data$/);
});

test("flags beat environment, environment beats defaults", () => {
  const env = { GATEWAY_HTTPS_PORT: "9000", GATEWAY_MQTTS_PORT: "9001", GATEWAY_CERT_DAYS: "7" };
  const c = resolveConfig({ "https-port": "0" }, env);
  assert.equal(c.httpsPort, 0);
  assert.equal(c.mqttsPort, 9001);
  assert.equal(c.certDays, 7);
});

test("the config object is frozen, limits too", () => {
  const c = resolveConfig({}, {});
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.limits));
  assert.ok(Object.isFrozen(c.hostnames));
});

for (const [flags, env, needle] of [
  [{ "https-port": "70000" }, {}, "--https-port"],
  [{ "mqtts-port": "abc" }, {}, "--mqtts-port"],
  [{}, { GATEWAY_CERT_DAYS: "0" }, "GATEWAY_CERT_DAYS"],
  [{ hostnames: " , " }, {}, "--hostnames"],
  [{ hostnames: "bad host" }, {}, "--hostnames"],
  [{ "ca-curve": "P-192" }, {}, "--ca-curve"],
  [{ "log-level": "loud" }, {}, "--log-level"],
] as const) {
  test(`fail/refuses ${JSON.stringify(flags)} ${JSON.stringify(env)} naming ${needle}`, () => {
    assert.throws(() => resolveConfig(flags, env), (e: unknown) => e instanceof GatewayError && e.code === "FG_CONFIG_INVALID" && e.message.includes(needle));
  });
}

test("durations", () => {
  assert.equal(parseDuration("90"), 90);
  assert.equal(parseDuration("45s"), 45);
  assert.equal(parseDuration("15m"), 900);
  assert.equal(parseDuration("24h"), 86400);
  assert.equal(parseDuration("7d"), 604800);
  for (const bad of ["", "7x", "-1h", "1.5h", "0", "h"]) assert.throws(() => parseDuration(bad), GatewayError, bad);
});

test("front-door limits: documented defaults; the per-address connect rate defaults to a tenth of the global one", () => {
  const d = resolveConfig({}, {}).limits;
  assert.equal(d.handshakeTimeoutMs, 5000);
  assert.equal(d.maxPendingConnections, 512);
  assert.equal(d.maxPendingPerAddress, 128);
  assert.equal(d.connectRate, 2000);
  assert.equal(d.connectRatePerAddress, 200);
  assert.equal(resolveConfig({ "connect-rate": "50" }, {}).limits.connectRatePerAddress, 5);
  assert.equal(resolveConfig({ "connect-rate": "5" }, {}).limits.connectRatePerAddress, 1);
  const set = resolveConfig({ "connect-rate-per-address": "7", "handshake-timeout-ms": "250" }, { GATEWAY_MAX_PENDING_PER_ADDRESS: "3" }).limits;
  assert.deepEqual([set.connectRatePerAddress, set.handshakeTimeoutMs, set.maxPendingPerAddress], [7, 250, 3]);
  assert.throws(() => resolveConfig({ "handshake-timeout-ms": "10" }, {}), /--handshake-timeout-ms/);
  assert.throws(() => resolveConfig({ "max-pending-connections": "0" }, {}), /--max-pending-connections/);
});
