import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startTestGateway, tmpDir } from "../../testkit/gateway.js";
import { simInProcess } from "./sim-harness.js";
import { foreignCa } from "../../testkit/certs.js";
import { sq } from "../../testkit/registry.js";

test("sim: devices re-enroll before expiry (simplereenroll) and reconnect with the new certificate", async () => {
  const gw = await startTestGateway({ "log-level": "info" });
  const state = path.join(tmpDir("fg-sim-renew-"), "state");
  try {
    // --renew-at 2s: renew two seconds after obtaining a certificate, instead of after 20 of its 30 days.
    const run = await simInProcess(gw, { devices: "5", concurrency: "5", rate: "4", duration: "5", "renew-at": "2s", state, prefix: "renew-" });
    assert.deepEqual(run.report.failures, {}, run.stderr);
    assert.equal(run.report.enrolled, 5);
    assert.equal(run.report.delivered, run.report.published);
    for (const d of run.fleet.devices) {
      assert.ok(d.renewals >= 1, `${d.id} renewed`);
      assert.ok(d.connects >= 2, `${d.id} reconnected after renewing (${d.connects} connects)`);
      const certs = sq(gw.gw.deps.store).sync.certificates.forDevice(d.id);
      assert.ok(certs.length >= 2, `${d.id} has ${certs.length} certificates`);
      // Renewal happened long before expiry: each certificate was replaced (its successor issued) while it
      // still had more than 29 of its 30 days left, i.e. driven by --renew-at, not by nearing notAfter.
      const byIssue = [...certs].sort((a, b) => a.issuedAt - b.issuedAt);
      for (let i = 1; i < byIssue.length; i++) {
        const left = byIssue[i - 1]!.notAfter - byIssue[i]!.issuedAt;
        assert.ok(left > 29 * 86_400_000, `${d.id}: certificate ${i} replaced with ${Math.round(left / 86_400_000)} days left`);
      }
      // The certificate the device uses now (and keeps in --state) is the newest one the gateway issued.
      const onDisk = new crypto.X509Certificate(fs.readFileSync(path.join(state, "devices", `${d.id}.pem`)));
      const newest = [...certs].sort((a, b) => b.issuedAt - a.issuedAt)[0]!;
      assert.equal(onDisk.serialNumber.toLowerCase().replace(/^0+/, ""), newest.serial.replace(/^0+/, ""));
      assert.equal(new crypto.X509Certificate(d.certificatePem!).serialNumber, onDisk.serialNumber);
      // The key was rotated too (a new key pair per renewal).
      assert.notEqual(new crypto.X509Certificate(byIssue[0]!.pem).publicKey.export({ type: "spki", format: "der" }).toString("hex"),
        onDisk.publicKey.export({ type: "spki", format: "der" }).toString("hex"));
    }
    // The gateway saw each renewal on its EST path: a simplereenroll authorized by the device's previous certificate.
    const audit = sq(gw.gw.deps.store).sync.audit.newest(1000);
    for (const d of run.fleet.devices) {
      const certs = sq(gw.gw.deps.store).sync.certificates.forDevice(d.id);
      const first = [...certs].sort((a, b) => a.issuedAt - b.issuedAt)[0]!;
      const renewal = audit.find((e) => e.type === "enroll.simplereenroll" && e.deviceId === d.id && e.detail?.presentedSerial === first.serial);
      assert.ok(renewal, `${d.id}: a simplereenroll presenting its first certificate ${first.serial}`);
    }
  } finally {
    await gw.close();
  }
});

test("sim: devices enroll with a manufacturer certificate (IDevID) when the gateway trusts its CA (--bootstrap-ca)", async () => {
  const mfg = foreignCa("Acme Manufacturing CA");
  const dir = tmpDir("fg-sim-idevid-");
  fs.writeFileSync(path.join(dir, "bootstrap.pem"), mfg.certPem);
  const idevid = path.join(dir, "idevid");
  fs.mkdirSync(idevid);
  for (const id of ["mfg-000001", "mfg-000002", "mfg-000003"]) {
    const c = mfg.issue(id);
    fs.writeFileSync(path.join(idevid, `${id}.pem`), c.certPem);
    fs.writeFileSync(path.join(idevid, `${id}.key`), c.keyPem, { mode: 0o600 });
  }
  const gw = await startTestGateway({ "log-level": "info", "bootstrap-ca": path.join(dir, "bootstrap.pem") });
  try {
    // Four devices, three with an IDevID: the fourth has no way to enroll.
    const run = await simInProcess(gw, { devices: "4", concurrency: "4", rate: "2", duration: "2", prefix: "mfg-", idevid });
    assert.deepEqual(run.report.failures, { noCredential: 1 }, run.stderr);
    assert.equal(run.exitCode, 1);
    assert.equal(run.report.enrolled, 3);
    assert.equal(run.report.connected, 3);
    assert.equal(run.report.delivered, run.report.published);
    const audit = sq(gw.gw.deps.store).sync.audit.newest(100);
    for (const id of ["mfg-000001", "mfg-000002", "mfg-000003"]) {
      assert.ok(audit.some((e) => e.type === "enroll.simpleenroll" && e.deviceId === id && e.detail?.method === "bootstrap"), id);
      assert.equal(sq(gw.gw.deps.store).sync.certificates.forDevice(id).length, 1);
    }
    assert.equal(sq(gw.gw.deps.store).sync.devices.get("mfg-000004"), undefined);
  } finally {
    await gw.close();
  }
});
