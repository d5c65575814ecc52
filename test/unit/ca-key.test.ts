import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensurePki, openCa } from "../../enroll/pki.js";
import { loadPki } from "../../pki/data-dir-files.js";
import { CrlService } from "../../enroll/crl-service.js";
import { openStore } from "../../db/open.js";
import { silentLogger } from "../../log.js";
import { children, readWhole } from "../../pki/der-reader.js";

/**
 * README "Architecture": only the CertificateAuthority holds the issuing CA's
 * private key; nothing reachable from it, nor the loaded PKI, hands the key out.
 */
function privateKeysReachable(root: unknown): string[] {
  const found: string[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown, where: string, depth: number) => {
    if (v === null || (typeof v !== "object" && typeof v !== "function") || seen.has(v) || depth > 4) return;
    seen.add(v);
    if (v instanceof crypto.KeyObject) {
      if (v.type === "private") found.push(where);
      return;
    }
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) return;
    for (let o: object | null = v as object; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) {
      for (const k of Object.getOwnPropertyNames(o)) {
        const d = Object.getOwnPropertyDescriptor(o, k)!;
        let x: unknown;
        try {
          x = "value" in d ? d.value : d.get ? (d.get as () => unknown).call(v) : undefined;
        } catch {
          continue;
        }
        walk(x, `${where}.${k}`, depth + 1);
      }
    }
  };
  walk(root, "root", 0);
  return found;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fg-cakey-"));
const pki = ensurePki({ dataDir: dir, hostnames: ["localhost"], curve: "P-256", clock: Date.now, log: silentLogger() });
const ca = openCa(pki, { certDays: 30, clock: Date.now, crlUrl: () => "https://localhost/crl" });

test("the CA signs, but no property or getter of it, nor of the loaded PKI, yields a private key", () => {
  assert.deepEqual(privateKeysReachable(ca), []);
  assert.deepEqual(privateKeysReachable(pki), []);
  assert.deepEqual(privateKeysReachable(loadPki(dir)), []);
  const k = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const issued = ca.issueClient("device", "dev-1", k.publicKey.export({ type: "spki", format: "der" }));
  assert.equal(new crypto.X509Certificate(issued.der).verify(new crypto.X509Certificate(ca.issuingDer).publicKey), true);
});

test("the CRL service gets its CRL signed by the CA, without the key", async () => {
  const store = openStore(path.join(dir, "gateway.db"), Date.now);
  try {
    const svc = new CrlService({ store, ca, clock: Date.now });
    assert.deepEqual(privateKeysReachable(svc), []);
    const der = await svc.current();
    // The CRL's signature verifies under the issuing CA's key (RFC 5280 §5.1.1.3): TBSCertList signed as-is.
    const [tbs, , sig] = topLevel(der);
    assert.equal(crypto.verify("sha256", tbs!, { key: new crypto.X509Certificate(ca.issuingDer).publicKey, dsaEncoding: "der" }, sig!.subarray(1)), true);
  } finally {
    store.close();
  }
});

/** TBSCertList (whole, as signed) and the signature BIT STRING's content, read with the strict DER reader. */
function topLevel(der: Buffer): Buffer[] {
  const [tbs, alg, sig] = children(der, readWhole(der, 0x30)!)!;
  return [der.subarray(tbs!.at, tbs!.end), der.subarray(alg!.start, alg!.end), der.subarray(sig!.start, sig!.end)];
}
