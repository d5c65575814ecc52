import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Store } from "../db/store.js";
import { GatewayError } from "../errors.js";
import type { CertificateAuthority } from "./ca.js";
import { ensurePrivateDir, writeKeyFile, writePublicFile } from "./files.js";
import { isValidName } from "./roles.js";

export type CredentialRole = "service" | "admin";

/**
 * Issues a service or admin credential (CONTRACT §3: only this path issues
 * those roles; EST never does). The key is generated here, written 0600, and
 * the certificate is recorded before the files are written.
 */
export function issueCredential(
  d: { store: Store; ca: CertificateAuthority; clock: () => number },
  role: CredentialRole, name: string, outDir: string, actor: string,
): { certFile: string; keyFile: string; serial: string } {
  if (role !== "service" && role !== "admin") throw new GatewayError("FG_USAGE", "--role must be service or admin");
  if (!isValidName(name)) throw new GatewayError("FG_NAME_INVALID");
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const issued = d.ca.issueClient(role, name, publicKey.export({ type: "spki", format: "der" }), 365);
  d.store.transaction(() => {
    d.store.certificates.insert({ serial: issued.serial, role, name, deviceId: null, notBefore: issued.notBefore, notAfter: issued.notAfter, issuedAt: d.clock(), pem: issued.pem });
    d.store.audit.append({ type: "credential.issued", actor, serial: issued.serial, detail: { role, name } });
  });
  ensurePrivateDir(outDir);
  const certFile = path.join(outDir, `${name}.pem`);
  const keyFile = path.join(outDir, `${name}.key`);
  writeKeyFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  writePublicFile(certFile, issued.pem);
  return { certFile, keyFile, serial: issued.serial };
}

/** CONTRACT §2: admin/admin.pem and admin/admin.key exist after the first start. */
export function ensureAdminCredential(d: { store: Store; ca: CertificateAuthority; clock: () => number }, adminDir: string): boolean {
  if (fs.existsSync(path.join(adminDir, "admin.pem")) && fs.existsSync(path.join(adminDir, "admin.key"))) return false;
  issueCredential(d, "admin", "admin", adminDir, "system");
  return true;
}
