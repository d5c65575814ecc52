import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startTestGateway, tmpDir } from "../helpers/gateway.js";
import { simInProcess } from "./sim-harness.js";

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
      const certs = gw.gw.deps.store.certificates.forDevice(d.id);
      assert.ok(certs.length >= 2, `${d.id} has ${certs.length} certificates`);
      // Renewal happened long before expiry: every earlier certificate was still valid when replaced.
      for (const c of certs) assert.ok(c.notAfter - Date.now() > 29 * 86_400_000);
      // The certificate the device uses now (and keeps in --state) is the newest one the gateway issued.
      const onDisk = new crypto.X509Certificate(fs.readFileSync(path.join(state, "devices", `${d.id}.pem`)));
      const newest = [...certs].sort((a, b) => b.issuedAt - a.issuedAt)[0]!;
      assert.equal(onDisk.serialNumber.toLowerCase().replace(/^0+/, ""), newest.serial.replace(/^0+/, ""));
      assert.equal(new crypto.X509Certificate(d.certificatePem!).serialNumber, onDisk.serialNumber);
      // The key was rotated too (a new key pair per renewal).
      assert.notEqual(new crypto.X509Certificate(certs.at(-1)!.pem).publicKey.export({ type: "spki", format: "der" }).toString("hex"),
        onDisk.publicKey.export({ type: "spki", format: "der" }).toString("hex"));
    }
    // The gateway saw each renewal on its EST path: a simplereenroll authorized by the device's previous certificate.
    const audit = gw.gw.deps.store.audit.newest(1000);
    for (const d of run.fleet.devices) {
      const certs = gw.gw.deps.store.certificates.forDevice(d.id);
      const first = [...certs].sort((a, b) => a.issuedAt - b.issuedAt)[0]!;
      const renewal = audit.find((e) => e.type === "enroll.simplereenroll" && e.deviceId === d.id && e.detail?.presentedSerial === first.serial);
      assert.ok(renewal, `${d.id}: a simplereenroll presenting its first certificate ${first.serial}`);
    }
  } finally {
    await gw.close();
  }
});
