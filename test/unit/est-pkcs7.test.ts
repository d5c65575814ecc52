import "reflect-metadata";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsnConvert } from "@peculiar/asn1-schema";
import { ContentInfo, SignedData, id_signedData } from "@peculiar/asn1-cms";
import { certsOnly } from "../../enroll/est/pkcs7.js";
import { encodeBase64 } from "../../enroll/est/body.js";
import { certsFromPkcs7Base64 } from "../../device-sim/est-client.js";
import { fromPemAll } from "../../pki/der.js";
import { foreignCa } from "../../testkit/certs.js";

describe("certs-only PKCS#7 (RFC 7030 §4.1.3, RFC 5652 §5)", () => {
  const ca = foreignCa("P7 Test");
  const leaf = ca.issue("dev-p7");
  const ders = [fromPemAll(ca.certPem)[0]!, fromPemAll(leaf.certPem)[0]!];

  test("a SignedData with the certificates, no signers, no content", () => {
    const ci = AsnConvert.parse(certsOnly(ders), ContentInfo);
    assert.equal(ci.contentType, id_signedData);
    const sd = AsnConvert.parse(ci.content, SignedData);
    assert.equal(sd.version, 1);
    assert.equal(sd.signerInfos.length, 0);
    assert.equal(sd.digestAlgorithms.length, 0);
    assert.equal(sd.encapContentInfo.eContent, undefined);
    const got = [...(sd.certificates ?? [])].map((c) => Buffer.from(AsnConvert.serialize(c.certificate!)).toString("hex")).sort();
    assert.deepEqual(got, ders.map((d) => d.toString("hex")).sort());
  });

  test("the EST client reads it back as PEM", () => {
    const pems = certsFromPkcs7Base64(encodeBase64(certsOnly(ders)));
    assert.deepEqual(pems.map((p) => fromPemAll(p)[0]!.toString("hex")).sort(), ders.map((d) => d.toString("hex")).sort());
  });

  test("one certificate, as simpleenroll answers", () => {
    assert.equal(certsFromPkcs7Base64(encodeBase64(certsOnly([ders[1]!]))).length, 1);
  });
});
