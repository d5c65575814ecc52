import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import { certsFromPkcs7Base64 } from "../../device-sim/est-client.js";
import { certsOnly } from "../../enroll/est/pkcs7.js";
import { fromPemAll } from "../../pki/der.js";
import { derSequence, derTlv } from "../../pki/der.js";
import { foreignCa } from "../../testkit/certs.js";

test("EST client PKCS#7 reader: same certificates, same PEM as @peculiar/x509", () => {
  const ca = foreignCa("P7");
  const ders = [fromPemAll(ca.certPem)[0]!, fromPemAll(ca.issue("d1").certPem)[0]!, fromPemAll(ca.issue("d2").certPem)[0]!];
  const b64 = certsOnly(ders).toString("base64");
  const reference = Array.from(new x509.X509Certificates(Buffer.from(b64, "base64")), (c) => c.toString("pem"));
  // Identical PEM text; ours ends with a newline, as PEM files do.
  const trimmed = (pems: string[]) => pems.map((p) => p.trimEnd());
  assert.deepEqual(trimmed(certsFromPkcs7Base64(b64)), reference);
  assert.deepEqual(trimmed(certsFromPkcs7Base64(b64.replace(/(.{64})/g, "$1\r\n"))), reference, "line-wrapped base64 (RFC 2045) too");
});

test("EST client PKCS#7 reader: anything else is refused, not misread", () => {
  const signedDataOid = Buffer.from("06092a864886f70d010702", "hex");
  const dataOid = Buffer.from("06092a864886f70d010701", "hex");
  for (const der of [
    Buffer.alloc(0),
    Buffer.from("garbage"),
    derSequence(dataOid, derTlv(0xa0, derSequence())),
    derSequence(signedDataOid, derTlv(0xa1, derSequence())),
    derSequence(signedDataOid),
    Buffer.concat([derSequence(signedDataOid, derTlv(0xa0, derSequence())), Buffer.from([0])]),
  ]) {
    assert.throws(() => certsFromPkcs7Base64(der.toString("base64")), /not a certs-only PKCS#7/, der.toString("hex"));
  }
  // A SignedData without certificates is well-formed and holds none.
  assert.deepEqual(certsFromPkcs7Base64(derSequence(signedDataOid, derTlv(0xa0, derSequence(Buffer.from("020101", "hex")))).toString("base64")), []);
});
