import crypto from "node:crypto";
import { derBitString, derSequence } from "../pki/der.js";
import { cnNameDer } from "../pki/names.js";

/**
 * The CSR a simulated device sends: PKCS#10 (RFC 2986) with subject CN=<id>,
 * its EC P-256 key, no attributes, signed ecdsa-with-SHA256. Assembled from
 * DER pieces with no ASN.1 object model, because a first-boot storm builds
 * thousands of them on one core; test/helpers/hostile-csr.ts (buildCsr)
 * stays the general builder for tests that need odd requests. test/unit/sim-device-csr.test.ts checks
 * the two agree and that the gateway's parser accepts the result.
 */

/** AlgorithmIdentifier ecdsa-with-SHA256 (RFC 5758 §3.2: no parameters). */
const ECDSA_SHA256 = Buffer.from("300a06082a8648ce3d040302", "hex");
const VERSION_0 = Buffer.from("020100", "hex");
/** [0] IMPLICIT SET OF Attribute, empty (RFC 2986 §4.1: the field is required, its content may be empty). */
const NO_ATTRIBUTES = Buffer.from("a000", "hex");

/** A device key pair: the private key to sign with, the public key as DER SubjectPublicKeyInfo. */
export interface DeviceKey {
  readonly privateKey: crypto.KeyObject;
  readonly spkiDer: Buffer;
}

/** A new EC P-256 key pair; the SPKI is encoded on the libuv thread pool along with the key generation. */
export const newDeviceKey = (): Promise<DeviceKey> =>
  new Promise((resolve, reject) => {
    // Node encodes either key independently; its typings only describe both-or-neither.
    const gen = crypto.generateKeyPair as unknown as (type: "ec", o: object, cb: (e: Error | null, spkiDer: Buffer, privateKey: crypto.KeyObject) => void) => void;
    gen("ec", { namedCurve: "prime256v1", publicKeyEncoding: { type: "spki", format: "der" } }, (e, spkiDer, privateKey) =>
      e ? reject(e) : resolve({ privateKey, spkiDer }));
  });

export function buildDeviceCsr(cn: string, key: crypto.KeyObject | DeviceKey): Buffer {
  const privateKey = key instanceof crypto.KeyObject ? key : key.privateKey;
  if (privateKey.asymmetricKeyType !== "ec") throw new Error("buildDeviceCsr signs with EC keys only");
  const spki = key instanceof crypto.KeyObject ? crypto.createPublicKey(key).export({ type: "spki", format: "der" }) : key.spkiDer;
  const info = derSequence(VERSION_0, cnNameDer(cn), spki, NO_ATTRIBUTES);
  const sig = crypto.sign("sha256", info, { key: privateKey, dsaEncoding: "der" });
  return derSequence(info, ECDSA_SHA256, derBitString(sig));
}
