import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_RENEW_AT, credentialUsability, parseRenewAt, renewalTime } from "../../device-sim/renewal.js";
import { GatewayError } from "../../errors.js";

const DAY = 86_400_000;
const cert = { notBefore: 1_000_000, notAfter: 1_000_000 + 30 * DAY };

test("renewal: by default when less than a third of the lifetime is left", () => {
  const t = renewalTime(cert, cert.notBefore, DEFAULT_RENEW_AT);
  assert.equal(t, cert.notBefore + 20 * DAY);
  assert.ok(cert.notAfter - t <= (cert.notAfter - cert.notBefore) / 3 + 1);
});

test("renewal: a fraction of the lifetime", () => {
  assert.equal(renewalTime(cert, cert.notBefore, { kind: "fraction", value: 0.5 }), cert.notBefore + 15 * DAY);
});

test("renewal: seconds after the certificate was obtained, never after expiry", () => {
  const obtained = cert.notBefore + 300_000;
  assert.equal(renewalTime(cert, obtained, { kind: "seconds", value: 5 }), obtained + 5000);
  assert.equal(renewalTime(cert, obtained, { kind: "seconds", value: 365 * 86400 }), cert.notAfter);
});

test("parseRenewAt: fractions, durations, and refusals", () => {
  assert.deepEqual(parseRenewAt("0.5"), { kind: "fraction", value: 0.5 });
  assert.deepEqual(parseRenewAt(".75"), { kind: "fraction", value: 0.75 });
  assert.deepEqual(parseRenewAt("20s"), { kind: "seconds", value: 20 });
  assert.deepEqual(parseRenewAt("3"), { kind: "seconds", value: 3 });
  assert.deepEqual(parseRenewAt("2m"), { kind: "seconds", value: 120 });
  for (const bad of ["0.0", "", "abc", "-1", "1.5", "0s"]) {
    assert.throws(() => parseRenewAt(bad), (e: unknown) => e instanceof GatewayError && e.code === "FG_USAGE", bad);
  }
});

test("credentialUsability: outside the validity window the device must enroll afresh", () => {
  assert.equal(credentialUsability(cert, cert.notBefore), "valid");
  assert.equal(credentialUsability(cert, cert.notAfter - 1), "valid");
  assert.equal(credentialUsability(cert, cert.notAfter), "expired");
  assert.equal(credentialUsability(cert, cert.notBefore - 1), "notYetValid");
});
