import { test } from "node:test";
import assert from "node:assert/strict";
import { ErrorWithReasonCode } from "mqtt";
import { type CloseFacts, afterClose, classifyConnectFailure, classifyEstFailure, isSilentRefusal } from "../../device-sim/failure-policy.js";

const errno = (code: string) => Object.assign(new Error(code), { code });

test("connect failures: refusals of the identity are final", () => {
  for (const [err, reason] of [
    [new ErrorWithReasonCode("Connection refused: Not authorized", 5), "connack5"],
    [new ErrorWithReasonCode("Connection refused: Bad username or password", 4), "connack4"],
    [new ErrorWithReasonCode("Connection refused: Identifier rejected", 2), "connack2"],
    [errno("ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED"), "tls:certificate_revoked"],
    [errno("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE"), "tls:bad_certificate"],
    [errno("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"), "tls:certificate_required"],
    [errno("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"), "tls:unknown_ca"],
  ] as const) {
    assert.deepEqual(classifyConnectFailure(err), { kind: "refused", reason }, reason);
  }
});

test("connect failures: a gateway we cannot trust is final too, but not a refusal", () => {
  for (const code of ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "ERR_TLS_CERT_ALTNAME_INVALID", "CERT_HAS_EXPIRED"]) {
    assert.deepEqual(classifyConnectFailure(errno(code)), { kind: "untrusted", reason: `tls:${code}` });
  }
});

test("connect failures: busy, network and timeouts are retried", () => {
  assert.deepEqual(classifyConnectFailure(new ErrorWithReasonCode("Connection refused: Server unavailable", 3)), { kind: "transient", reason: "connack3" });
  assert.deepEqual(classifyConnectFailure(errno("ECONNREFUSED")), { kind: "transient", reason: "econnrefused" });
  assert.deepEqual(classifyConnectFailure(errno("ECONNRESET")), { kind: "transient", reason: "econnreset" });
  assert.deepEqual(classifyConnectFailure(new Error("connack timeout")), { kind: "transient", reason: "timeout" });
  assert.deepEqual(classifyConnectFailure(undefined), { kind: "transient", reason: "closed" });
  assert.deepEqual(classifyConnectFailure(new Error("something odd")), { kind: "transient", reason: "error" });
});

test("silent refusals: only closes without CONNACK count towards giving up", () => {
  assert.equal(isSilentRefusal(classifyConnectFailure(undefined)), true);
  assert.equal(isSilentRefusal(classifyConnectFailure(errno("ECONNRESET"))), true);
  assert.equal(isSilentRefusal(classifyConnectFailure(errno("ECONNREFUSED"))), false);
  assert.equal(isSilentRefusal(classifyConnectFailure(new ErrorWithReasonCode("x", 3))), false);
});

test("EST failures: 4xx refusals are final, busy and network errors are retried", () => {
  const est = (status: number, retryAfter?: number) => Object.assign(new Error(`EST ${status}`), { name: "EstError", status, body: "", retryAfter });
  assert.deepEqual(classifyEstFailure(est(401)), { retry: false, reason: "401" });
  assert.deepEqual(classifyEstFailure(est(403)), { retry: false, reason: "403" });
  assert.deepEqual(classifyEstFailure(est(400)), { retry: false, reason: "400" });
  assert.deepEqual(classifyEstFailure(est(429, 2)), { retry: true, reason: "429", retryAfter: 2 });
  assert.deepEqual(classifyEstFailure(est(503)), { retry: true, reason: "503" });
  assert.deepEqual(classifyEstFailure(errno("ECONNRESET")), { retry: true, reason: "econnreset" });
  assert.deepEqual(classifyEstFailure(errno("UNABLE_TO_VERIFY_LEAF_SIGNATURE")), { retry: false, reason: "tls:UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  assert.deepEqual(classifyEstFailure(new Error("EST simpleenroll: no answer within 30000 ms")), { retry: true, reason: "error" });
  assert.deepEqual(classifyEstFailure("weird"), { retry: true, reason: "error" });
});

test("after a close: a dropped connection is retried; a refusal stops the device, as revoked once it had been in", () => {
  const base: CloseFacts = { wasOnline: false, everOnline: false, error: undefined, silentRefusals: 0 };
  const connack5 = new ErrorWithReasonCode("Connection refused: Not authorized", 5);
  const table: [Partial<CloseFacts>, unknown][] = [
    [{ wasOnline: true, everOnline: true }, { kind: "retry", reason: "dropped" }],
    [{ error: connack5 }, { kind: "stop", state: "failed", reason: "refused:connack5" }],
    [{ error: connack5, everOnline: true }, { kind: "stop", state: "revoked", reason: "revoked" }],
    [{ error: errno("ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED"), everOnline: true }, { kind: "stop", state: "revoked", reason: "revoked" }],
    [{ error: errno("UNABLE_TO_VERIFY_LEAF_SIGNATURE") }, { kind: "stop", state: "failed", reason: "connect:tls:UNABLE_TO_VERIFY_LEAF_SIGNATURE" }],
    [{ error: new ErrorWithReasonCode("busy", 3), everOnline: true, silentRefusals: 2 }, { kind: "retry", reason: "connect:connack3" }],
    [{ error: errno("ECONNREFUSED") }, { kind: "retry", reason: "connect:econnrefused" }],
    // Never online: a silent close is just a failed attempt, however many.
    [{ silentRefusals: 10 }, { kind: "retry", reason: "connect:closed" }],
  ];
  for (const [facts, decision] of table) assert.deepEqual(afterClose({ ...base, ...facts }).decision, decision, JSON.stringify(facts));
  assert.equal(afterClose({ ...base, error: new ErrorWithReasonCode("busy", 3), silentRefusals: 2 }).silentRefusals, 0, "a healthy answer resets the count");
});

test("after a close: silent refusals after a kick add up to a refusal", () => {
  let n = 0;
  const facts = () => ({ wasOnline: false, everOnline: true, error: n === 1 ? errno("ECONNRESET") : undefined, silentRefusals: n });
  const first = afterClose(facts());
  assert.deepEqual([first.decision.kind, first.silentRefusals], ["retry", 1]);
  n = first.silentRefusals;
  const second = afterClose(facts());
  assert.deepEqual([second.decision.kind, second.silentRefusals], ["retry", 2]);
  n = second.silentRefusals;
  assert.deepEqual(afterClose(facts()).decision, { kind: "stop", state: "revoked", reason: "revoked" });
});
