import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { summarizeCert } from "../../device-sim/cert-summary.js";
import { derTimeMs } from "../../pki/cert-facts.js";
import { CertSigner, algIdDer, keyIdentifier } from "../../pki/signer.js";
import { cnName } from "../../pki/names.js";
import { sigAlgFor } from "../../pki/algorithms.js";
import { clientProfile } from "../../enroll/profile.js";
import { AsnConvert } from "@peculiar/asn1-schema";
import { foreignCa, newEcKey } from "../../testkit/certs.js";

test("cert summary: agrees with node's X509Certificate on CN and validity", () => {
  const ca = foreignCa();
  for (const cn of ["dev-1", "sim-000042", "ünïcode.dev"]) {
    const pem = ca.issue(cn).certPem;
    const x = new crypto.X509Certificate(pem);
    const s = summarizeCert(pem);
    assert.equal(s.cn, cn);
    assert.equal(s.notBefore, Date.parse(x.validFrom));
    assert.equal(s.notAfter, Date.parse(x.validTo));
  }
});

test("cert summary: GeneralizedTime after 2049 (RFC 5280 §4.1.2.5)", () => {
  const k = newEcKey();
  const issuerName = cnName("T");
  const alg = sigAlgFor(k.privateKey);
  const signer = new CertSigner({ name: issuerName, nameDer: Buffer.from(AsnConvert.serialize(issuerName)), key: k.privateKey, alg, algIdDer: algIdDer(alg), ski: keyIdentifier(k.spkiDer).toString("hex") });
  const t = { ...clientProfile({ role: "device", name: "far", now: Date.UTC(2049, 11, 1), days: 60, crlUrl: "https://x/crl" }) };
  const pem = signer.sign(t, k.spkiDer).pem;
  const s = summarizeCert(pem);
  assert.equal(s.notAfter, Date.parse(new crypto.X509Certificate(pem).validTo));
  assert.ok(new Date(s.notAfter).getUTCFullYear() === 2050);
});

test("cert summary: times and garbage", () => {
  assert.equal(derTimeMs(0x17, "491231235959Z"), Date.UTC(2049, 11, 31, 23, 59, 59));
  assert.equal(derTimeMs(0x17, "500101000000Z"), Date.UTC(1950, 0, 1));
  assert.equal(derTimeMs(0x18, "20500101000000Z"), Date.UTC(2050, 0, 1));
  assert.throws(() => derTimeMs(0x17, "2050010100Z"), RangeError);
  assert.throws(() => derTimeMs(0x04, "491231235959Z"), RangeError);
  assert.throws(() => summarizeCert("no pem here"), RangeError);
  assert.throws(() => summarizeCert("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"));
});
