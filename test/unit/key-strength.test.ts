import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { ED25519_SMALL_ORDER, keyWeakness } from "../../pki/key-strength.js";
import { spkiFacts } from "../../pki/spki.js";
import type { KeyFacts } from "../../enroll/admission.js";

const spki = (k: crypto.KeyObject) => k.export({ type: "spki", format: "der" });
const hex = (h: string) => Buffer.from(h, "hex");
const P256 = hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
const P384 = hex("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff");
const good256 = spkiFacts(spki(crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey))!;
const good384 = spkiFacts(spki(crypto.generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey))!;
const goodEd = spkiFacts(spki(crypto.generateKeyPairSync("ed25519").publicKey))!;
const goodRsa = spkiFacts(spki(crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey))!;
const pt = (...parts: Buffer[]) => Buffer.concat(parts);
const withSign = (b: Buffer) => { const c = Buffer.from(b); c[31]! |= 0x80; return c; };
const le = (v: bigint) => { const b = Buffer.alloc(32); for (let i = 0; i < 32; i++) { b[i] = Number(v & 255n); v >>= 8n; } return b; };
const P25519 = 2n ** 255n - 19n;

const cases: [string, KeyFacts, boolean][] = [
  ["rsa/65537 from a real key", goodRsa, true],
  ["rsa/e=1", { ...goodRsa, exponent: 1n }, false],
  ["rsa/e=3", { ...goodRsa, exponent: 3n }, false],
  ["rsa/e=65535 (below the floor)", { ...goodRsa, exponent: 65535n }, false],
  ["rsa/e=65538 (even)", { ...goodRsa, exponent: 65538n }, false],
  ["rsa/e=2^255+1 (odd, under 2^256)", { ...goodRsa, exponent: 2n ** 255n + 1n }, true],
  ["rsa/e=2^256+1 (too large)", { ...goodRsa, exponent: 2n ** 256n + 1n }, false],
  ["rsa/e missing", { type: "rsa", bits: 2048, modulusOdd: true }, false],
  ["rsa/even modulus", { ...goodRsa, modulusOdd: false }, false],
  ["ec/p256 real", good256, true],
  ["ec/p384 real", good384, true],
  ["ec/p256 infinity", { type: "ec", curve: "prime256v1", point: hex("00") }, false],
  ["ec/secp256k1 infinity (would abort node's key details)", { type: "ec", curve: "secp256k1", point: hex("00") }, false],
  ["ec/no point", { type: "ec", curve: "prime256v1" }, false],
  ["ec/empty point", { type: "ec", curve: "prime256v1", point: Buffer.alloc(0) }, false],
  ["ec/hybrid form 0x06", { type: "ec", curve: "prime256v1", point: pt(hex("06"), good256.point!.subarray(1) as Buffer) }, false],
  ["ec/uncompressed, wrong length", { type: "ec", curve: "prime256v1", point: good256.point!.subarray(0, 64) }, false],
  ["ec/x = p", { type: "ec", curve: "prime256v1", point: pt(hex("04"), P256, Buffer.from(good256.point!.subarray(33))) }, false],
  ["ec/y = p", { type: "ec", curve: "prime256v1", point: pt(hex("04"), Buffer.from(good256.point!.subarray(1, 33)), P256) }, false],
  ["ec/y = ff..ff", { type: "ec", curve: "prime256v1", point: pt(hex("04"), Buffer.from(good256.point!.subarray(1, 33)), Buffer.alloc(32, 0xff)) }, false],
  ["ec/p384 x = p", { type: "ec", curve: "secp384r1", point: pt(hex("04"), P384, Buffer.from(good384.point!.subarray(49))) }, false],
  ["ec/compressed, x < p", { type: "ec", curve: "prime256v1", point: pt(hex("02"), Buffer.from(good256.point!.subarray(1, 33))) }, true],
  ["ec/compressed, x = p", { type: "ec", curve: "prime256v1", point: pt(hex("03"), P256) }, false],
  ["ed25519/real", goodEd, true],
  ["ed25519/31 octets", { type: "ed25519", point: Buffer.alloc(31, 1) }, false],
  ["ed25519/y = p + 2 (non-canonical 2)", { type: "ed25519", point: le(P25519 + 2n) }, false],
  ["ed25519/y = 2^255 - 1 (non-canonical)", { type: "ed25519", point: le(2n ** 255n - 1n) }, false],
  ["ed25519/y = p - 2 (canonical, not small order)", { type: "ed25519", point: le(P25519 - 2n) }, true],
  ...ED25519_SMALL_ORDER.flatMap((b, i): [string, KeyFacts, boolean][] => [
    [`ed25519/small order #${i}`, { type: "ed25519", point: b }, false],
    [`ed25519/small order #${i} with the sign bit`, { type: "ed25519", point: withSign(b) }, false],
  ]),
  ["other types are admitKey's business", { type: "dsa", bits: 2048 }, true],
];

describe("keyWeakness", () => {
  for (const [name, facts, sound] of cases) {
    test(`${name} -> ${sound ? "sound" : "weak"}`, () => {
      const w = keyWeakness(facts);
      if (sound) assert.equal(w, undefined);
      else assert.equal(typeof w, "string");
    });
  }
});

/** Edwards25519 in affine coordinates (RFC 8032 §5.1), only to prove the blacklist is what it claims. */
const mod = (a: bigint) => ((a % P25519) + P25519) % P25519;
const pow = (a: bigint, e: bigint) => { let r = 1n; a = mod(a); while (e > 0n) { if (e & 1n) r = (r * a) % P25519; a = (a * a) % P25519; e >>= 1n; } return r; };
const inv = (a: bigint) => pow(a, P25519 - 2n);
const D = mod(-121665n * inv(121666n));
function decode(b: Buffer): [bigint, bigint] | undefined {
  const y = mod(BigInt(`0x${Buffer.from(b).reverse().toString("hex")}`) & ((1n << 255n) - 1n));
  const u = mod(y * y - 1n), v = mod(D * y * y + 1n);
  const x2 = mod(u * inv(v));
  let x = pow(x2, (P25519 + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) x = mod(x * pow(2n, (P25519 - 1n) / 4n));
  return mod(x * x - x2) === 0n ? [x, y] : undefined;
}
const add = ([x1, y1]: [bigint, bigint], [x2, y2]: [bigint, bigint]): [bigint, bigint] => {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inv(1n + t)), mod((y1 * y2 + x1 * x2) * inv(1n - t))];
};

test("every blacklisted Ed25519 encoding is a point of order dividing 8, and the 8 such points are all covered", () => {
  const ys = new Set<bigint>();
  for (const b of ED25519_SMALL_ORDER) {
    const p = decode(b);
    assert.ok(p, b.toString("hex"));
    let q = p;
    for (let i = 0; i < 3; i++) q = add(q, q);
    assert.deepEqual(q, [0n, 1n], `8P is the identity for ${b.toString("hex")}`);
    ys.add(p[1]);
  }
  // Orders 1, 2, 4, 8: y in {1, -1, 0, and the two y of the order-8 points} (each y stands for x and -x).
  assert.equal(ys.size, 5);
  // A real public key is not of small order.
  let q = decode(goodEd.point as Buffer)!;
  for (let i = 0; i < 3; i++) q = add(q, q);
  assert.notDeepEqual(q, [0n, 1n]);
});
