import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { admitCsr, admitKey, type CsrFacts } from "../../enroll/admission.js";
import { isValidName, OID } from "../../pki/roles.js";
import { spkiFacts } from "../../pki/spki.js";

const factsOf = (type: "ec" | "rsa" | "ed25519", o: object) =>
  spkiFacts((crypto.generateKeyPairSync as (t: string, o: object) => crypto.KeyPairKeyObjectResult)(type, o).publicKey.export({ type: "spki", format: "der" }))!;
const p256 = factsOf("ec", { namedCurve: "prime256v1" });
const p384 = factsOf("ec", { namedCurve: "secp384r1" });
const ed = factsOf("ed25519", {});
const rsa = { type: "rsa", exponent: 65537n, modulusOdd: true } as const;

const base: CsrFacts = {
  subject: [{ type: OID.commonName, value: "dev-1" }],
  key: p256,
  signatureAlgorithmSupported: true,
  signatureValid: true,
};

const cases: [string, Partial<CsrFacts>, string, string | null][] = [
  ["ok/p256", {}, "dev-1", null],
  ["ok/p384", { key: p384 }, "dev-1", null],
  ["ok/rsa2048", { key: { ...rsa, bits: 2048 } }, "dev-1", null],
  ["ok/rsa4096", { key: { ...rsa, bits: 4096 } }, "dev-1", null],
  ["ok/ed25519", { key: ed }, "dev-1", null],
  ["fail/rsa1024", { key: { ...rsa, bits: 1024 } }, "dev-1", "FG_CSR_KEY_UNSUPPORTED"],
  ["fail/rsa e=1", { key: { ...rsa, bits: 2048, exponent: 1n } }, "dev-1", "FG_CSR_KEY_WEAK"],
  ["fail/rsa e=3", { key: { ...rsa, bits: 2048, exponent: 3n } }, "dev-1", "FG_CSR_KEY_WEAK"],
  ["fail/rsa exponent unknown", { key: { type: "rsa", bits: 2048 } }, "dev-1", "FG_CSR_KEY_WEAK"],
  ["fail/p256 point at infinity", { key: { type: "ec", curve: "prime256v1", point: new Uint8Array([0]) } }, "dev-1", "FG_CSR_KEY_WEAK"],
  ["fail/ed25519 identity", { key: { type: "ed25519", point: Buffer.from("01".padEnd(64, "0"), "hex") } }, "dev-1", "FG_CSR_KEY_WEAK"],
  ["fail/unsupported curve wins over its point", { key: { type: "ec", curve: "secp256k1", point: new Uint8Array([0]) } }, "dev-1", "FG_CSR_KEY_UNSUPPORTED"],
  ["fail/p192", { key: { type: "ec", curve: "prime192v1" } }, "dev-1", "FG_CSR_KEY_UNSUPPORTED"],
  ["fail/secp256k1", { key: { type: "ec", curve: "secp256k1" } }, "dev-1", "FG_CSR_KEY_UNSUPPORTED"],
  ["fail/dsa", { key: { type: "dsa", bits: 2048 } }, "dev-1", "FG_CSR_KEY_UNSUPPORTED"],
  ["fail/ed448", { key: { type: "ed448" } }, "dev-1", "FG_CSR_KEY_UNSUPPORTED"],
  ["fail/bad signature", { signatureValid: false }, "dev-1", "FG_CSR_SIGNATURE_INVALID"],
  ["fail/unsupported signature alg", { signatureAlgorithmSupported: false, signatureValid: false }, "dev-1", "FG_CSR_SIGNATURE_ALG_UNSUPPORTED"],
  ["fail/cn mismatch", {}, "dev-2", "FG_CSR_SUBJECT_MISMATCH"],
  ["fail/no subject", { subject: [] }, "dev-1", "FG_CSR_SUBJECT_INVALID"],
  ["fail/extra O attribute", { subject: [{ type: OID.commonName, value: "dev-1" }, { type: "2.5.4.10", value: "Acme" }] }, "dev-1", "FG_CSR_SUBJECT_INVALID"],
  ["fail/two CNs", { subject: [{ type: OID.commonName, value: "dev-1" }, { type: OID.commonName, value: "dev-1" }] }, "dev-1", "FG_CSR_SUBJECT_INVALID"],
  ["fail/cn not a device id", { subject: [{ type: OID.commonName, value: "dev 1" }] }, "dev 1", "FG_DEVICE_ID_INVALID"],
  // Proof of possession comes first: a forged CSR for the right id is still refused as forged.
  ["fail/bad signature wins over weak key", { signatureValid: false, key: { ...rsa, bits: 1024 } }, "dev-1", "FG_CSR_SIGNATURE_INVALID"],
];

for (const [name, patch, id, code] of cases) {
  test(`admitCsr ${name}`, () => {
    const d = admitCsr({ ...base, ...patch }, id);
    if (code === null) assert.deepEqual(d, { ok: true });
    else {
      assert.equal(d.ok, false);
      assert.equal(!d.ok && d.code, code);
    }
  });
}

test("admitKey refuses an RSA key with unknown size", () => {
  assert.equal(admitKey({ type: "rsa" }).ok, false);
});

const ids: [string, boolean][] = [
  ["a", true], ["dev-1", true], ["A.b_c-9", true], ["x".repeat(64), true], ["0abc", true],
  ["", false], ["x".repeat(65), false], ["-dev", false], [".dev", false], ["_dev", false], ["dev 1", false],
  ["dev/1", false], ["dev+", false], ["dev#", false], ["dév", false], ["dev\n", false], ["../etc", false],
];
for (const [id, ok] of ids) {
  test(`device id grammar ${JSON.stringify(id.length > 20 ? `${id.slice(0, 8)}…(${id.length})` : id)} -> ${ok}`, () => {
    assert.equal(isValidName(id), ok);
  });
}
