import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { ERRORS, GatewayError, toGatewayError } from "../../errors.js";

const readme = fs.readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

test("every error code is documented in the README table, and the table lists no unknown code", () => {
  const documented = new Set([...readme.matchAll(/^\| `(FG_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.ok(documented.has(code), `${code} missing from README`);
    const row = readme.split("\n").find((l) => l.startsWith(`| \`${code}\` |`))!;
    assert.ok(row.includes(`| ${spec.status} |`), `${code} status in README`);
  }
  for (const code of documented) assert.ok(code! in ERRORS, `README documents unknown ${code}`);
});

test("statuses are HTTP error statuses; CONNACK codes are MQTT 3.1.1 refusals (1..5)", () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    const connack = (spec as { connack?: number }).connack;
    if (connack !== undefined) assert.ok(connack >= 1 && connack <= 5, code);
  }
});

test("unknown errors become FG_INTERNAL without leaking their message", () => {
  const e = toGatewayError(new Error("secret detail"));
  assert.equal(e.code, "FG_INTERNAL");
  assert.equal(e.status, 500);
  assert.ok(!e.message.includes("secret"));
  const g = new GatewayError("FG_RATE_LIMITED", undefined, { retryAfter: 30 });
  assert.equal(toGatewayError(g), g);
  assert.equal(g.retryAfter, 30);
});
