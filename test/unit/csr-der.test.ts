import "reflect-metadata";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertificationRequest, CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName, SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { readCsr } from "../../pki/csr-der.js";
import { decodeOid, readTlv } from "../../pki/der-reader.js";
import { parseCsr } from "../../pki/csr.js";
import { admitCsr } from "../../enroll/admission.js";
import { sigAlgFor, signBytes } from "../../pki/algorithms.js";
import { derBitString, derSequence } from "../../pki/der.js";
import { buildCsr } from "../helpers/hostile-csr.js";

/** What the generic parser (@peculiar/asn1-csr) reads from a CSR: the reference for the strict reader. */
function reference(der: Buffer) {
  const req = AsnConvert.parse(der, CertificationRequest);
  const subject: { type: string; value: string }[] = [];
  for (const rdn of req.certificationRequestInfo.subject) for (const atv of rdn) subject.push({ type: atv.type, value: atv.value.toString() });
  return {
    infoDer: Buffer.from(req.certificationRequestInfoRaw!).toString("hex"),
    subject,
    spkiDer: Buffer.from(AsnConvert.serialize(req.certificationRequestInfo.subjectPKInfo)).toString("hex"),
    signatureAlgorithm: req.signatureAlgorithm.algorithm,
    signature: Buffer.from(req.signature).toString("hex"),
  };
}

function strict(der: Buffer) {
  const p = readCsr(der);
  assert.ok(p, "readCsr refused a well-formed CSR");
  return { ...p, infoDer: Buffer.from(p.infoDer).toString("hex"), spkiDer: Buffer.from(p.spkiDer).toString("hex"), signature: Buffer.from(p.signature).toString("hex") };
}

/** A CSR whose subject uses the given AttributeValue choices (string types buildCsr does not produce). */
function csrWithValues(key: crypto.KeyObject, values: AttributeValue[]): Buffer {
  const spki = AsnConvert.parse(crypto.createPublicKey(key).export({ type: "spki", format: "der" }), SubjectPublicKeyInfo);
  const subject = new Name(values.map((value) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type: "2.5.4.3", value })])));
  const info = Buffer.from(AsnConvert.serialize(new CertificationRequestInfo({ subject, subjectPKInfo: spki })));
  const alg = sigAlgFor(key);
  const algDer = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: alg.oid })));
  return derSequence(info, algDer, derBitString(signBytes(alg, key, info)));
}

function admitted(der: Buffer, id: string): boolean {
  try {
    return admitCsr(parseCsr(der).facts, id).ok;
  } catch {
    return false;
  }
}

describe("strict CSR reader (RFC 2986, DER)", () => {
  const keys = {
    ec: crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey,
    p384: crypto.generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey,
    rsa: crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey,
    ed25519: crypto.generateKeyPairSync("ed25519").privateKey,
  };

  test("ok: reads what the generic parser reads, for every key type and attribute", () => {
    for (const [name, k] of Object.entries(keys)) {
      for (const der of [
        buildCsr({ cn: "dev-1", privateKey: k }),
        buildCsr({ cn: "dev-1", privateKey: k, requestCa: true }),
        buildCsr({ cn: "dev-1", privateKey: k, extraSubject: [["2.5.4.10", "Org ü"], ["2.5.4.11", "Unit"]] }),
      ]) {
        assert.deepEqual(strict(der), reference(der), name);
      }
    }
  });

  test("ok: every DirectoryString type reads as the generic parser reads it", () => {
    const der = csrWithValues(keys.ec, [
      new AttributeValue({ printableString: "dev-print" }),
      new AttributeValue({ bmpString: "dev-bmp" }),
      new AttributeValue({ ia5String: "dev-ia5" }),
      new AttributeValue({ utf8String: "dév-ütf8" }),
      new AttributeValue({ teletexString: "dev-t61" }),
    ]);
    assert.deepEqual(strict(der), reference(der));
  });

  test("ok: OIDs with large and multi-octet arcs", () => {
    for (const oid of ["2.5.4.3", "1.2.840.113549.1.9.14", "1.3.6.1.4.1.59595.1.1.1", "2.999.3", "0.39", "1.39.4294967295"]) {
      const ai = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: oid })));
      const seq = readTlv(ai, 0, ai.length)!;
      assert.equal(decodeOid(ai, readTlv(ai, seq.start, seq.end)!), oid);
    }
    assert.equal(decodeOid(Buffer.from("06028001", "hex"), readTlv(Buffer.from("06028001", "hex"), 0, 4)!), undefined, "non-minimal arc");
    assert.equal(decodeOid(Buffer.from("060155ff", "hex"), { tag: 6, at: 0, start: 2, end: 4 }), undefined, "truncated arc");
  });

  test("fail: trailing bytes, truncation, wrong tags, unused bits, non-minimal or indefinite lengths, wrong version", () => {
    const good = buildCsr({ cn: "dev-1", privateKey: keys.rsa });
    const bad = (m: Buffer, why: string) => assert.equal(readCsr(m), undefined, why);
    bad(Buffer.concat([good, Buffer.from([0])]), "trailing byte");
    bad(good.subarray(0, good.length - 1), "truncated");
    bad(Buffer.alloc(0), "empty");
    bad(Buffer.from([0x30, 0x80, 0x00, 0x00]), "indefinite length");
    bad(Buffer.from([0x30, 0x81, 0x05, 1, 2, 3, 4, 5]), "long form for a short length");
    const tagged = Buffer.from(good);
    tagged[0] = 0xb0;
    bad(tagged, "outer tag");
    const unused = Buffer.from(good);
    unused[good.length - 257] = 1; // RSA-2048: BIT STRING content is 0x00 + 256 signature octets
    bad(unused, "unused bits in the signature");
    const v2 = Buffer.from(good);
    const at = good.indexOf(Buffer.from("020100", "hex"));
    v2[at + 2] = 1;
    bad(v2, "version 2");
  });

  test("no single-bit flip anywhere in a request is admitted", () => {
    for (const [name, k] of Object.entries({ ec: keys.ec, ed25519: keys.ed25519 })) {
      const good = buildCsr({ cn: "dev-flip", privateKey: k });
      assert.ok(admitted(good, "dev-flip"), name);
      for (let at = 0; at < good.length; at++) {
        for (let bit = 0; bit < 8; bit++) {
          const m = Buffer.from(good);
          m[at]! ^= 1 << bit;
          assert.ok(!admitted(m, "dev-flip"), `${name}: flip of bit ${bit} at byte ${at} admitted`);
        }
      }
    }
  });
});
