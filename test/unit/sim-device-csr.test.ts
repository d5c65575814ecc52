import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { buildDeviceCsr, newDeviceKey } from "../../device-sim/device-csr.js";
import { buildCsr } from "../helpers/hostile-csr.js";
import { parseCsr } from "../../pki/csr.js";
import { admitCsr } from "../../enroll/admission.js";

/** The DER of a TLV's header length at `off`. */
function tlvEnd(der: Buffer, off: number): number {
  const first = der[off + 1]!;
  if (first < 0x80) return off + 2 + first;
  const n = first & 0x7f;
  return off + 2 + n + der.readUIntBE(off + 2, n);
}

/** Hex of CertificationRequestInfo + signatureAlgorithm, the two fields before the signature. */
function infoAndAlg(der: Buffer): string {
  const outerHeader = der[1]! < 0x80 ? 2 : 2 + (der[1]! & 0x7f);
  const infoEnd = tlvEnd(der, outerHeader);
  return der.subarray(outerHeader, tlvEnd(der, infoEnd)).toString("hex");
}

test("device CSR: the lean builder produces what buildCsr does, and the gateway admits it", () => {
  const key = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  const lean = buildDeviceCsr("sim-000042", key);
  const full = buildCsr({ cn: "sim-000042", privateKey: key });
  // Same CertificationRequestInfo and signature algorithm; ECDSA signatures differ per call.
  assert.equal(infoAndAlg(lean), infoAndAlg(full));
  const parsed = parseCsr(lean);
  assert.deepEqual(parsed.facts.subject, [{ type: "2.5.4.3", value: "sim-000042" }]);
  assert.equal(parsed.facts.signatureValid, true);
  assert.equal(parsed.facts.signatureAlgorithmSupported, true);
  assert.equal(admitCsr(parsed.facts, "sim-000042").ok, true);
});

test("device CSR: a UTF-8 CN and a non-EC key", () => {
  const key = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  assert.equal(parseCsr(buildDeviceCsr("dev.ü", key)).facts.subject[0]!.value, "dev.ü");
  const ed = crypto.generateKeyPairSync("ed25519").privateKey;
  assert.throws(() => buildDeviceCsr("x", ed), /EC keys only/);
});

test("device key: generated with its SPKI, and the CSR built from it carries that key", async () => {
  const k = await newDeviceKey();
  assert.equal(k.privateKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert.equal(k.spkiDer.toString("hex"), crypto.createPublicKey(k.privateKey).export({ type: "spki", format: "der" }).toString("hex"));
  const parsed = parseCsr(buildDeviceCsr("sim-1", k));
  assert.equal(parsed.spkiDer.toString("hex"), k.spkiDer.toString("hex"));
  assert.equal(parsed.facts.signatureValid, true);
});
