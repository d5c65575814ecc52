import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { certificateSpki, importSpki, spkiFacts } from "../../pki/spki.js";
import { foreignCa } from "../../testkit/certs.js";
import { keyWeakness } from "../../pki/key-strength.js";

const spkiOf = (k: crypto.KeyObject) => k.export({ type: "spki", format: "der" });

describe("SPKI import (fast path for P-256, generic otherwise)", () => {
  const keys: Record<string, crypto.KeyObject> = {
    p256: crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey,
    p384: crypto.generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey,
    p521: crypto.generateKeyPairSync("ec", { namedCurve: "secp521r1" }).publicKey,
    k256: crypto.generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey,
    rsa: crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey,
    ed25519: crypto.generateKeyPairSync("ed25519").publicKey,
  };

  test("ok: the same key and the same facts as OpenSSL's own decoder and key details", () => {
    for (const [name, k] of Object.entries(keys)) {
      const { key, facts } = importSpki(spkiOf(k));
      assert.ok(key.equals(k), name);
      const d = k.asymmetricKeyDetails ?? {};
      const { point: _p, exponent, modulusOdd: _o, ...named } = facts;
      assert.deepEqual(named, { type: k.asymmetricKeyType, ...(d.namedCurve ? { curve: d.namedCurve } : {}), ...(d.modulusLength ? { bits: d.modulusLength } : {}) }, name);
      if (k.asymmetricKeyType === "rsa") assert.equal(exponent, d.publicExponent, name);
      if (k.asymmetricKeyType === "ec") assert.deepEqual(Buffer.from(facts.point!), spkiOf(k).subarray(-facts.point!.length), name);
      if (k.asymmetricKeyType === "ed25519") assert.deepEqual(Buffer.from(facts.point!), Buffer.from(k.export({ format: "jwk" }).x!, "base64url"), name);
    }
  });

  test("ok: a compressed P-256 point takes the generic path", () => {
    const der = crypto.createPublicKey({ key: keys.p256!.export({ format: "jwk" }), format: "jwk" }).export({ type: "spki", format: "der" });
    const ecdh = crypto.ECDH.convertKey(der.subarray(der.length - 65), "prime256v1", undefined, undefined, "compressed") as Buffer;
    const compressed = Buffer.concat([Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex"), ecdh]);
    const { key, facts } = importSpki(compressed);
    assert.ok(key.equals(keys.p256!));
    assert.equal(facts.type, "ec");
    assert.equal(facts.curve, "prime256v1");
  });

  test("fail: a P-256 point that is not on the curve, and an SPKI with a trailing element", () => {
    const der = Buffer.from(spkiOf(keys.p256!));
    der[der.length - 1]! ^= 1;
    assert.throws(() => importSpki(der));
    const good = spkiOf(keys.p256!);
    const extra = Buffer.concat([Buffer.from([0x30, good.length - 2 + 2]), good.subarray(2), Buffer.from([0x05, 0x00])]);
    assert.throws(() => importSpki(extra));
  });
});

/** P-256 field prime, and a point with a tiny x (x = 5), so that x + p still fits in 32 octets. */
const P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const powp = (a: bigint, e: bigint) => { let r = 1n; a %= P; while (e > 0n) { if (e & 1n) r = (r * a) % P; a = (a * a) % P; e >>= 1n; } return r; };
const be32 = (v: bigint) => Buffer.from(v.toString(16).padStart(64, "0"), "hex");
const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");

describe("what the key import itself checks (so the policy need not redo it)", () => {
  const x = 5n;
  const y = powp((x * x * x - 3n * x + B) % P, (P + 1n) / 4n);
  const spkiFor = (X: bigint, Y: bigint) => Buffer.concat([P256_SPKI_PREFIX, Buffer.from([4]), be32(X), be32(Y)]);

  test("the point (5, y) is on P-256 and imports by both paths", () => {
    assert.equal((y * y) % P, (x * x * x - 3n * x + B) % P);
    const der = spkiFor(x, y);
    assert.equal(importSpki(der).key.asymmetricKeyType, "ec");
    assert.equal(crypto.createPublicKey({ key: der, format: "der", type: "spki" }).asymmetricKeyType, "ec");
  });

  test("x + p (the same point, non-reduced coordinate) is refused by the JWK and the DER import, and by the policy", () => {
    const der = spkiFor(x + P, y);
    assert.throws(() => importSpki(der));
    assert.throws(() => crypto.createPublicKey({ key: der, format: "der", type: "spki" }));
    assert.match(keyWeakness(spkiFacts(der)!) ?? "", /below the field prime/);
  });

  test("a point off the curve is refused by the JWK and the DER import", () => {
    const der = spkiFor(x, y ^ 1n);
    assert.throws(() => importSpki(der));
    assert.throws(() => crypto.createPublicKey({ key: der, format: "der", type: "spki" }));
  });

  test("OpenSSL imports the point at infinity without complaint: only the policy refuses it", () => {
    for (const curveOid of ["06082a8648ce3d030107", "06052b8104000a"]) {
      const alg = Buffer.from(`30${(9 + curveOid.length / 2).toString(16).padStart(2, "0")}06072a8648ce3d0201${curveOid}`, "hex");
      const der = Buffer.concat([Buffer.from([0x30, alg.length + 4]), alg, Buffer.from("03020000", "hex")]);
      // Never ask for asymmetricKeyDetails here: node aborts the process on this key.
      assert.equal(crypto.createPublicKey({ key: der, format: "der", type: "spki" }).asymmetricKeyType, "ec");
      const facts = spkiFacts(der)!;
      assert.deepEqual(Buffer.from(facts.point!), Buffer.from([0]));
      assert.match(keyWeakness(facts) ?? "", /infinity/);
    }
  });

  test("an RSA key with e = 1 and a small-order Ed25519 key import fine: only the policy refuses them", () => {
    const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
    const e1 = crypto.createPublicKey({ key: { ...rsa, e: "AQ" }, format: "jwk" }).export({ type: "spki", format: "der" });
    assert.equal(importSpki(e1).facts.exponent, 1n);
    assert.match(keyWeakness(spkiFacts(e1)!) ?? "", /exponent 1 /);
    const identity = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from([1]), Buffer.alloc(31)]);
    assert.equal(importSpki(identity).key.asymmetricKeyType, "ed25519");
    assert.match(keyWeakness(spkiFacts(identity)!) ?? "", /small order/);
  });
});

test("certificateSpki finds the SubjectPublicKeyInfo of a certificate, and nothing in garbage", () => {
  const ca = foreignCa("Spki CA");
  for (const pem of [ca.certPem, ca.issue("d1").certPem]) {
    const x = new crypto.X509Certificate(pem);
    assert.deepEqual(Buffer.from(certificateSpki(x.raw)!), x.publicKey.export({ type: "spki", format: "der" }));
  }
  for (const g of [Buffer.alloc(0), Buffer.from([0x30, 0x00]), Buffer.from("3003300100", "hex"), crypto.randomBytes(64)]) assert.equal(certificateSpki(g), undefined);
});
