import crypto from "node:crypto";
import type { Deps } from "../../runtime/deps.js";
import type { Role } from "../../db/types.js";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertSigner, algIdDer, cnName, keyIdentifier } from "../../enroll/ca.js";
import { sigAlgFor } from "../../enroll/algorithms.js";
import { clientProfile, caProfile } from "../../enroll/profile.js";
import { sq } from "./registry.js";

export interface Credential { readonly keyPem: string; readonly certPem: string; readonly serial: string; readonly privateKey: crypto.KeyObject }

export function newEcKey(curve = "prime256v1") {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: curve });
  return { privateKey, spkiDer: publicKey.export({ type: "spki", format: "der" }), keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
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
  const issued = new CertSigner(d.ca.issuer).sign(t, k.spkiDer);
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
  const alg = sigAlgFor(k.privateKey);
  const nm = cnName(name);
  const signer = new CertSigner({
    name: nm, nameDer: Buffer.from(AsnConvert.serialize(nm)), key: k.privateKey, alg, algIdDer: algIdDer(alg), ski: keyIdentifier(k.spkiDer).toString("hex"),
  });
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
