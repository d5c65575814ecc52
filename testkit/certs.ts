import crypto from "node:crypto";
import fs from "node:fs";
import type { Deps } from "../runtime/deps.js";
import type { Role } from "../db/types.js";
import { CertSigner, type Issuer, makeIssuer, selfIssuer } from "../pki/signer.js";
import { fromPemAll } from "../pki/der.js";
import { pkiPaths } from "../pki/data-dir-files.js";
import { clientProfile, caProfile } from "../enroll/profile.js";
import { sq } from "./registry.js";

export interface Credential { readonly keyPem: string; readonly certPem: string; readonly serial: string; readonly privateKey: crypto.KeyObject }

export function newEcKey(curve = "prime256v1") {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: curve });
  return { privateKey, spkiDer: publicKey.export({ type: "spki", format: "der" }), keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
}

/**
 * The issuing CA's Issuer (name, key identifier and private key) read from a
 * data directory's files, as anyone with the key file could. The gateway's
 * CertificateAuthority never hands its key out; tests that must sign what the
 * profile would not (backdated, weak-keyed, forged serials) read it here.
 */
export function issuingIssuer(dataDir: string): Issuer {
  const p = pkiPaths(dataDir);
  return makeIssuer(fromPemAll(fs.readFileSync(p.issuingCert, "utf8"))[0]!, crypto.createPrivateKey(fs.readFileSync(p.issuingKey)));
}

const signers = new Map<string, CertSigner>();
/** A CertSigner under the issuing CA of `dataDir` (cached per directory). */
export function issuingSigner(dataDir: string): CertSigner {
  let s = signers.get(dataDir);
  if (!s) signers.set(dataDir, (s = new CertSigner(issuingIssuer(dataDir))));
  return s;
}

/**
 * Issues a client certificate straight from the gateway's CA and records it,
 * as EST would. For broker tests that need a device without going through EST.
 * `ageDays` moves the validity window into the past (expired when > days).
 */
export function issueDirect(d: Pick<Deps, "ca" | "store" | "config">, name: string, o: { role?: Role; days?: number; ageDays?: number; notYetValidDays?: number; register?: boolean } = {}): Credential {
  const role = o.role ?? "device";
  const k = newEcKey();
  const now = Date.now() - (o.ageDays ?? 0) * 86_400_000 + (o.notYetValidDays ?? 0) * 86_400_000;
  const t = clientProfile({ role, name, now, days: o.days ?? d.config.certDays, crlUrl: d.ca.crlUrl() });
  const issued = issuingSigner(d.config.dataDir).sign(t, k.spkiDer);
  if (o.register !== false) {
    const s = sq(d.store);
    s.db.transaction(() => {
      if (role === "device") s.sync.devices.ensure(name, Date.now());
      s.sync.certificates.insert({ serial: issued.serial, role, name, deviceId: role === "device" ? name : null, notBefore: issued.notBefore, notAfter: issued.notAfter, issuedAt: Date.now(), pem: issued.pem });
    }).immediate();
  }
  return { keyPem: k.keyPem, certPem: issued.pem, serial: issued.serial, privateKey: k.privateKey };
}

/** A self-contained foreign CA (not the gateway's) and the leaves it signs, e.g. a device CN the gateway never issued. */
export function foreignCa(name = "Foreign CA") {
  const k = newEcKey();
  const signer = new CertSigner(selfIssuer(name, k.privateKey, k.spkiDer));
  const root = signer.sign(caProfile({ name, now: Date.now(), days: 365 }), k.spkiDer, { selfSigned: true });
  return {
    certPem: root.pem,
    keyPem: k.keyPem,
    /** Issues a clientAuth leaf carrying a role policy, to prove the policy alone is not trusted. */
    issue(cn: string, role: Role = "device"): Credential {
      const lk = newEcKey();
      const c = signer.sign(clientProfile({ role, name: cn, now: Date.now(), days: 30, crlUrl: "https://localhost/crl" }), lk.spkiDer);
      return { keyPem: lk.keyPem, certPem: c.pem, serial: c.serial, privateKey: lk.privateKey };
    },
  };
}
