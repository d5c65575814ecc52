import { test } from "node:test";
import assert from "node:assert/strict";
import { deviceIds, parseTokensCsv } from "../../device-sim/tokens.js";
import { GatewayError } from "../../errors.js";

test("tokens CSV: the output of token create --count", () => {
  assert.deepEqual(parseTokensCsv("P000001,tok1\r\nP000002,tok2\n\n# comment\n P000003 , tok3 \n"), [
    { deviceId: "P000001", token: "tok1" }, { deviceId: "P000002", token: "tok2" }, { deviceId: "P000003", token: "tok3" },
  ]);
  assert.deepEqual(parseTokensCsv(""), []);
});

test("tokens CSV: refusals name the line and never echo a token", () => {
  for (const [text, re] of [
    ["a,b,c", /line 1: expected/], ["justid", /line 1: expected/], [",tok", /line 1: expected/], ["ok,t\nbad id,secret-token", /line 2: invalid device id/],
    ["a,t1\na,t2", /line 2: device a appears twice/],
  ] as const) {
    assert.throws(() => parseTokensCsv(text), (e: unknown) => e instanceof GatewayError && e.code === "FG_USAGE" && re.test(e.message) && !e.message.includes("secret-token"), text);
  }
});

test("device ids: numbered like token create --count, width grows past a million", () => {
  assert.deepEqual(deviceIds("sim-", 3), ["sim-000001", "sim-000002", "sim-000003"]);
  assert.equal(deviceIds("x", 1_234_567).at(-1), "x1234567");
  assert.throws(() => deviceIds("-bad", 1), /--prefix/);
});
