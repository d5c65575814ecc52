import type { FastifyRequest } from "fastify";
import { GatewayError } from "../../errors.js";
import type { HttpsContext } from "../https-server.js";
import { isRegisteredCertificate } from "../../db/fingerprint.js";

export interface AdminPrincipal {
  readonly name: string;
  readonly serial: string;
  /** How the audit trail names this admin. */
  readonly actor: string;
}

declare module "fastify" {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

/**
 * The admin role is decided by the client certificate alone (README "CLI" and "Admin API"):
 * no certificate (or one we cannot trust) is 401, any role but admin is 403.
 * The certificate must also be registered (that very certificate, not merely
 * its serial) and unrevoked.
 */
export async function authorizeAdmin(ctx: HttpsContext, req: FastifyRequest): Promise<AdminPrincipal> {
  const peer = ctx.peer(req);
  if (peer.kind === "none" || peer.kind === "untrusted") throw new GatewayError("FG_ADMIN_CERT_REQUIRED");
  if (peer.kind === "bootstrap" || peer.facts.role !== "admin") throw new GatewayError("FG_ROLE_FORBIDDEN", "an admin certificate is required for the admin API");
  const row = await ctx.store.certificates.get(peer.facts.serial);
  if (!row || row.role !== "admin" || !isRegisteredCertificate(row, peer.fingerprint)) throw new GatewayError("FG_CERT_UNKNOWN");
  if (row.status !== "valid") throw new GatewayError("FG_CERT_REVOKED");
  const name = peer.facts.commonName ?? "?";
  return { name, serial: row.serial, actor: `admin:${name}` };
}
