import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { csrFor, token } from "../helpers/est-tools.js";
import { openStore, type Store } from "../../db/store.js";
import type { CertificateAuthority } from "../../enroll/ca.js";
import { certFacts } from "../../pki/cert-facts.js";
import { fingerprint } from "../../pki/peer.js";
import { checkCredentialOrReplay, enrollOrReplay, type Authorization, type EnrollDeps } from "../../enroll/enrollment.js";
import { revokeDevice } from "../../enroll/fleet.js";
import { createToken, hashToken, tokenUsable } from "../../enroll/tokens.js";
import { isGatewayError } from "../../errors.js";

/** The EST operation's path (enroll/est/operation.ts) without HTTP: check the credential (or find a retry), then enroll or redeliver. */
const enroll = (d: EnrollDeps, auth: Authorization, csrDer: Uint8Array) => enrollOrReplay(d, auth, checkCredentialOrReplay(d.store, auth, d.clock()), csrDer);

/**
 * The enrollment domain against a real SQLite file, with "another process" (a
 * second connection) acting between the checks and the commit: the one
 * transaction must notice, discard the signed certificate and leave no trace.
 */
describe("enrollment races with other processes", () => {
  let t: TestGateway;
  let other: Store;
  before(async () => {
    t = await startTestGateway();
    other = openStore(path.join(t.dataDir, "gateway.db"));
  });
  after(async () => {
    other.close();
    await t.close();
  });

  /** A CA that lets the other process act while this one signs. */
  const meanwhile = (act: () => void): CertificateAuthority => {
    const ca = t.gw.deps.ca;
    return Object.assign(Object.create(ca) as CertificateAuthority, {
      issueClient: (...a: Parameters<CertificateAuthority["issueClient"]>) => {
        act();
        return ca.issueClient(...a);
      },
    });
  };
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (isGatewayError(e)) return e.code;
      throw e;
    }
    return "ok";
  };

  test("the token is consumed elsewhere after the check: FG_TOKEN_INVALID, no device, no certificate", () => {
    const tok = token(t, "race-1");
    const ca = meanwhile(() => assert.ok(other.tokens.consume(hashToken(tok), "race-1", Date.now())));
    const auth: Authorization = { kind: "token", deviceId: "race-1", token: tok };
    assert.equal(code(() => enroll({ ...t.gw.deps, ca }, auth, csrFor("race-1").der)), "FG_TOKEN_INVALID");
    assert.equal(t.gw.deps.store.devices.get("race-1"), undefined);
    assert.equal(t.gw.deps.store.certificates.forDevice("race-1").length, 0);
  });

  test("the device is revoked elsewhere after the check: FG_DEVICE_REVOKED, and the token is not spent", () => {
    const d = t.gw.deps;
    enroll(d, { kind: "token", deviceId: "race-2", token: token(t, "race-2") }, csrFor("race-2").der);
    const tok = createToken(d, "race-2", 3600, "test", { reprovision: true }).token;
    const ca = meanwhile(() => revokeDevice({ store: other, clock: Date.now }, "race-2", "keyCompromise", "test"));
    assert.equal(code(() => enroll({ ...d, ca }, { kind: "token", deviceId: "race-2", token: tok }, csrFor("race-2").der)), "FG_DEVICE_REVOKED");
    assert.equal(d.store.tokens.get(hashToken(tok))?.usedAt, null, "not spent (the revocation cancelled it)");
    assert.ok(!tokenUsable(d.store, "race-2", tok, Date.now()));
    assert.equal(d.store.certificates.forDevice("race-2").length, 1);
  });

  test("the presented certificate is revoked elsewhere during re-enrollment: refused, nothing issued", () => {
    const d = t.gw.deps;
    const first = enroll(d, { kind: "token", deviceId: "race-3", token: token(t, "race-3") }, csrFor("race-3").der);
    const facts = certFacts(first.certificate.der);
    const ca = meanwhile(() => revokeDevice({ store: other, clock: Date.now }, "race-3", "superseded", "test"));
    const c = code(() => enroll({ ...d, ca }, { kind: "certificate", facts, fingerprint: fingerprint(first.certificate.der) }, csrFor("race-3").der));
    assert.ok(c === "FG_CERT_REVOKED" || c === "FG_DEVICE_REVOKED", c);
    assert.equal(d.store.certificates.forDevice("race-3").length, 1);
  });

  test("the domain emits 'enrolled' only for committed certificates", () => {
    const d = t.gw.deps;
    const seen: string[] = [];
    const on = (e: { serial: string }) => seen.push(e.serial);
    d.events.on("enrolled", on);
    try {
      const tok = token(t, "race-4");
      const ca = meanwhile(() => other.tokens.consume(hashToken(tok), "race-4", Date.now()));
      assert.equal(code(() => enroll({ ...d, ca }, { kind: "token", deviceId: "race-4", token: tok }, csrFor("race-4").der)), "FG_TOKEN_INVALID");
      const ok = enroll(d, { kind: "token", deviceId: "race-4", token: token(t, "race-4") }, csrFor("race-4").der);
      assert.deepEqual(seen, [ok.certificate.serial]);
    } finally {
      d.events.off("enrolled", on);
    }
  });
});
