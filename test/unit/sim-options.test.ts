import { test } from "node:test";
import assert from "node:assert/strict";
import { simOptionsFrom, SIM_DEFAULTS } from "../../device-sim/options.js";
import { GatewayError } from "../../errors.js";

const ok = (v: Record<string, string>) => simOptionsFrom(v);
const usage = (v: Record<string, string>, re: RegExp) =>
  assert.throws(() => simOptionsFrom(v), (e: unknown) => e instanceof GatewayError && e.code === "FG_USAGE" && re.test(e.message), JSON.stringify(v));

test("sim options: defaults (device-sim/README.md URLs) with just --data", () => {
  const o = ok({ data: "./data" });
  assert.equal(o.devices, SIM_DEFAULTS.devices);
  assert.equal(o.concurrency, 100);
  assert.equal(o.rate, 1);
  assert.equal(o.durationS, 30);
  assert.equal(o.startTimeoutS, 300);
  assert.equal(o.qos, 1);
  assert.equal(o.payloadBytes, 100);
  assert.equal(o.est.toString(), "https://127.0.0.1:8443/");
  assert.equal(o.mqtt.toString(), "mqtts://127.0.0.1:8883");
  assert.equal(o.scenario, "first-boot");
  assert.deepEqual(o.renewAt, { kind: "fraction", value: 2 / 3 });
  assert.equal(o.out, undefined);
  assert.ok(Object.isFrozen(o));
});

test("sim options: every flag parsed", () => {
  const o = ok({
    devices: "200", concurrency: "20", rate: "0.5", duration: "2m", "start-timeout": "90s", qos: "0", "payload-bytes": "512", data: "d", tokens: "t.csv", state: "s", ca: "ca.pem",
    est: "https://gw.example:9443", mqtt: "mqtts://gw.example:9883", out: "r.json", scenario: "revoke-drill", revoke: "7", "renew-at": "10s", prefix: "lab-",
  });
  assert.deepEqual(
    [o.devices, o.concurrency, o.rate, o.durationS, o.qos, o.payloadBytes, o.data, o.tokens, o.state, o.ca, o.est.host, o.mqtt.port, o.out, o.scenario, o.revoke, o.prefix],
    [200, 20, 0.5, 120, 0, 512, "d", "t.csv", "s", "ca.pem", "gw.example:9443", "9883", "r.json", "revoke-drill", 7, "lab-"],
  );
  assert.deepEqual(o.renewAt, { kind: "seconds", value: 10 });
  assert.equal(o.startTimeoutS, 90);
});

test("sim options: --revoke implies the revoke drill; --tokens alone sizes the fleet from the file", () => {
  assert.equal(ok({ data: "d", revoke: "2" }).scenario, "revoke-drill");
  assert.equal(ok({ data: "d", scenario: "revoke-drill", devices: "50" }).revoke, 5);
  assert.equal(ok({ tokens: "t.csv", ca: "ca.pem" }).devices, undefined);
});

test("sim options: usage errors name the flag", () => {
  usage({ data: "d", devices: "0" }, /--devices/);
  usage({ data: "d", devices: "1e3" }, /--devices/);
  usage({ data: "d", devices: "100001" }, /--devices/);
  usage({ data: "d", concurrency: "0" }, /--concurrency/);
  usage({ data: "d", rate: "0" }, /--rate/);
  usage({ data: "d", rate: "fast" }, /--rate/);
  usage({ data: "d", rate: "1001" }, /--rate/);
  usage({ data: "d", duration: "soon" }, /--duration/);
  usage({ data: "d", "start-timeout": "0" }, /--start-timeout/);
  usage({ data: "d", qos: "2" }, /--qos/);
  usage({ data: "d", "payload-bytes": "-1" }, /--payload-bytes/);
  usage({ data: "d", "payload-bytes": "999999" }, /--payload-bytes/);
  usage({ data: "d", est: "http://127.0.0.1:8443" }, /--est must use https:/);
  usage({ data: "d", est: "not a url" }, /--est/);
  usage({ data: "d", mqtt: "mqtt://127.0.0.1:1883" }, /--mqtt must use mqtts:/);
  usage({ data: "d", scenario: "chaos" }, /--scenario/);
  usage({ data: "d", scenario: "reconnect-storm", revoke: "3" }, /--revoke/);
  usage({ data: "d", devices: "5", revoke: "6" }, /--revoke/);
  usage({ data: "d", "renew-at": "1.5" }, /--renew-at/);
  usage({ data: "d", prefix: "bad/" }, /--prefix/);
  usage({ tokens: "t.csv" }, /--ca/);
  usage({ ca: "ca.pem" }, /enroll/);
  usage({ ca: "ca.pem", tokens: "t.csv", idevid: "dir" }, /either --tokens or --idevid/);
  assert.equal(ok({ ca: "ca.pem", idevid: "dir" }).idevid, "dir");
  usage({ ca: "ca.pem", tokens: "t.csv", scenario: "revoke-drill" }, /--data/);
});
