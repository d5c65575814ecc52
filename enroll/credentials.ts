import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Repositories, Store } from "../db/store.js";
import { GatewayError } from "../errors.js";
import type { CertificateAuthority } from "./ca.js";
import { ensurePrivateDir, writeKeyFile, writePublicFile } from "./files.js";
import { isValidName } from "../pki/roles.js";
import { assertCredentialName } from "./names.js";
import type { RevocationReason } from "../db/types.js";
import type { GatewayEvents } from "../runtime/deps.js";
import { certStatus, isRevocationReason, type CertView } from "./fleet.js";
import { REVOCATION_REASONS } from "../db/types.js";

export type CredentialRole = "service" | "admin";

/**
 * Issues a service or admin credential (README "Architecture", roles: only this path issues
 * those roles; EST never does). The key is generated here, written 0600, and
 * the certificate is recorded before the files are written.
 */
export async function issueCredential(
  d: { store: Store; ca: CertificateAuthority; clock: () => number },
  role: CredentialRole, name: string, outDir: string, actor: string,
): Promise<{ certFile: string; keyFile: string; serial: string }> {
  if (role !== "service" && role !== "admin") throw new GatewayError("FG_USAGE", "--role must be service or admin");
  if (!isValidName(name)) throw new GatewayError("FG_NAME_INVALID");
  await assertCredentialName(d.store, name, role);
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const issued = d.ca.issueClient(role, name, publicKey.export({ type: "spki", format: "der" }), 365);
  await d.store.transaction(async (tx) => {
    // Again under the write lock: a token or device for this name may have been created meanwhile.
    await assertCredentialName(tx, name, role);
    await tx.certificates.insert({ serial: issued.serial, role, name, deviceId: null, notBefore: issued.notBefore, notAfter: issued.notAfter, issuedAt: d.clock(), pem: issued.pem });
    await tx.audit.append({ type: "credential.issued", actor, serial: issued.serial, detail: { role, name } });
  });
  ensurePrivateDir(outDir);
  const certFile = path.join(outDir, `${name}.pem`);
  const keyFile = path.join(outDir, `${name}.key`);
  writeKeyFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  writePublicFile(certFile, issued.pem);
  return { certFile, keyFile, serial: issued.serial };
}

/** README "Configuration", data directory: admin/admin.pem and admin/admin.key exist after the first start. */
export async function ensureAdminCredential(d: { store: Store; ca: CertificateAuthority; clock: () => number }, adminDir: string): Promise<boolean> {
  if (fs.existsSync(path.join(adminDir, "admin.pem")) && fs.existsSync(path.join(adminDir, "admin.key"))) return false;
  await issueCredential(d, "admin", "admin", adminDir, "system");
  return true;
}

/** One service or admin credential as `cert list --json` and `GET /api/v1/credentials` show it. */
export interface CredentialView {
  name: string;
  role: CredentialRole;
  status: "valid" | "revoked";
  certificates: { serial: string; notBefore: string; notAfter: string; status: CertView }[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Service and admin credentials by name; a credential is valid while one of its certificates is. */
export async function listCredentials(store: Repositories, now: number): Promise<CredentialView[]> {
  const byName = new Map<string, CredentialView>();
  for (const c of await store.certificates.credentials()) {
    let v = byName.get(c.name);
    if (!v) byName.set(c.name, (v = { name: c.name, role: c.role as CredentialRole, status: "revoked", certificates: [] }));
    const status = certStatus(c, now);
    if (status === "valid") v.status = "valid";
    v.certificates.push({ serial: c.serial, notBefore: iso(c.notBefore), notAfter: iso(c.notAfter), status });
  }
  return [...byName.values()];
}

export interface CredentialRevokeResult { readonly name: string; readonly role: CredentialRole; readonly alreadyRevoked: boolean; readonly serials: string[] }

/**
 * Revokes every certificate of a service or admin credential: they go on the CRL,
 * the HTTPS admin API and MQTT refuse them (their registry standing is checked on
 * every request and CONNECT), and the revocation log entries make every gateway
 * process close their live sessions. Idempotent; an unknown name is FG_NOT_FOUND.
 */
export async function revokeCredential(
  d: { store: Store; clock: () => number; events?: GatewayEvents },
  name: string, reason: RevocationReason, actor: string,
): Promise<CredentialRevokeResult> {
  if (!isValidName(name)) throw new GatewayError("FG_NAME_INVALID");
  if (!isRevocationReason(reason)) throw new GatewayError("FG_BODY_INVALID", `reason must be one of ${REVOCATION_REASONS.join(", ")}`);
  const now = d.clock();
  const r = await d.store.transaction(async (tx): Promise<CredentialRevokeResult> => {
    const role = await tx.certificates.credentialRole(name);
    if (role !== "service" && role !== "admin") throw new GatewayError("FG_NOT_FOUND", `credential ${name} not found`);
    const serials = await tx.certificates.revokeCredential(name, reason, now);
    for (const s of serials) await tx.revocations.append(null, s, now);
    await tx.audit.append({ at: now, type: "credential.revoked", actor, detail: { name, role, reason, serials, alreadyRevoked: serials.length === 0 } });
    return { name, role, alreadyRevoked: serials.length === 0, serials };
  });
  if (r.serials.length > 0) d.events?.emit("revoked", { deviceId: null, serials: r.serials, reason });
  return r;
}
