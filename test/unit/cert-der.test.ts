import "reflect-metadata";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { Extension, SubjectKeyIdentifier, SubjectPublicKeyInfo, Validity, id_ce_subjectKeyIdentifier } from "@peculiar/asn1-x509";
import { skiExtensionDer, spkiKeyBits, validityDer } from "../../pki/cert-der.js";
import { cnName, cnNameDer } from "../../pki/names.js";

const hex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");

describe("direct DER encoders match @peculiar/asn1-x509 byte for byte", () => {
  test("subject CN names, ASCII and not, short and long", () => {
    for (const cn of ["dev-1", "a", "x".repeat(64), "x".repeat(200), "Gerät-ü", "fleetgate Root CA 0a1b2c3d"]) {
      assert.equal(hex(cnNameDer(cn)), hex(AsnConvert.serialize(cnName(cn))), cn);
    }
  });

  test("validity: UTCTime through 2049, GeneralizedTime from 2050, milliseconds dropped", () => {
    const dates = ["2026-01-02T03:04:05.678Z", "1999-12-31T23:59:59Z", "2049-12-31T23:59:59Z", "2050-01-01T00:00:00Z", "2126-07-08T09:10:11Z", "2000-02-29T12:00:00Z"].map((s) => new Date(s));
    for (const a of dates) {
      for (const b of dates) assert.equal(hex(validityDer(a, b)), hex(AsnConvert.serialize(new Validity({ notBefore: a, notAfter: b }))), `${a.toISOString()} ${b.toISOString()}`);
    }
  });

  test("subject key identifier extension", () => {
    const ski = crypto.randomBytes(20);
    const ref = new Extension({ extnID: id_ce_subjectKeyIdentifier, critical: false, extnValue: new OctetString(AsnConvert.serialize(new SubjectKeyIdentifier(ski))) });
    assert.equal(hex(skiExtensionDer(ski)), hex(AsnConvert.serialize(ref)));
  });

  test("subjectPublicKey bits of every key type", () => {
    const keys = [
      crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey,
      crypto.generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey,
      crypto.generateKeyPairSync("ed25519").publicKey,
      crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey,
    ];
    for (const k of keys) {
      const der = k.export({ type: "spki", format: "der" });
      assert.equal(hex(spkiKeyBits(der)), hex(AsnConvert.parse(der, SubjectPublicKeyInfo).subjectPublicKey));
    }
    assert.throws(() => spkiKeyBits(Buffer.from("3000", "hex")));
  });
});
