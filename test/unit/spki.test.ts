import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { importSpki } from "../../enroll/spki.js";

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
      assert.deepEqual(facts, { type: k.asymmetricKeyType, ...(d.namedCurve ? { curve: d.namedCurve } : {}), ...(d.modulusLength ? { bits: d.modulusLength } : {}) }, name);
    }
  });

  test("ok: a compressed P-256 point takes the generic path", () => {
    const der = crypto.createPublicKey({ key: keys.p256!.export({ format: "jwk" }), format: "jwk" }).export({ type: "spki", format: "der" });
    const ecdh = crypto.ECDH.convertKey(der.subarray(der.length - 65), "prime256v1", undefined, undefined, "compressed") as Buffer;
    const compressed = Buffer.concat([Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex"), ecdh]);
    const { key, facts } = importSpki(compressed);
    assert.ok(key.equals(keys.p256!));
    assert.deepEqual(facts, { type: "ec", curve: "prime256v1" });
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
