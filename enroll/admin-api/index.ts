import type { FastifyInstance } from "fastify";
import type { HttpsContext } from "../https-server.js";
import { GatewayError } from "../../errors.js";
import { parseDuration } from "../../runtime/duration.js";
import { getDevice, listDevices, revokeDevice, type RevokeResult } from "../fleet.js";
import { createToken, listTokens, revokeTokens } from "../tokens.js";
import { listCredentials, revokeCredential } from "../credentials.js";
import type { RevocationReason } from "../../db/types.js";
import { auditQuery, credentialNameParams, deviceIdParams, listQuery, revokeBody, tokenBody, tokenDeviceParams } from "./schemas.js";

const DEFAULT_TOKEN_TTL = 86400;
const DEFAULT_AUDIT_LIMIT = 100;

/** A bad id in the path is a clear 400, not a schema dump. */
function schemaErrorFormatter(errors: { instancePath?: string; message?: string }[], dataVar: string): Error {
  const e = errors[0];
  if (dataVar === "params") return new GatewayError(e?.instancePath === "/name" ? "FG_NAME_INVALID" : "FG_DEVICE_ID_INVALID");
  return new GatewayError("FG_BODY_INVALID", `${dataVar}${e?.instancePath ?? ""} ${e?.message ?? "is invalid"}`);
}

/**
 * The admin API under /api/v1 (README "CLI" and "Admin API"). Every route needs an admin client
 * certificate; mutations are written to the audit trail with the admin's name.
 */
export async function registerAdminApi(app: FastifyInstance, ctx: HttpsContext): Promise<void> {
  app.setSchemaErrorFormatter(schemaErrorFormatter);
  // No hook here: the admin check is attached to every /api route where routes are
  // registered (http/route-access.ts), so it runs for whatever spelling matched.

  app.get("/api/v1/devices", { schema: { querystring: listQuery } }, async (req) => {
    const q = req.query as { expiringWithin?: string };
    const windowMs = q.expiringWithin === undefined ? undefined : parseDuration(q.expiringWithin, "expiringWithin") * 1000;
    return listDevices(ctx.store, ctx.clock(), windowMs);
  });

  app.get("/api/v1/devices/:id", { schema: { params: deviceIdParams } }, async (req) => {
    const { id } = req.params as { id: string };
    req.fgDeviceId = id;
    return getDevice(ctx.store, id, ctx.clock());
  });

  // A device that never enrolled has only tokens: they are cancelled (status "tokensCancelled").
  app.post("/api/v1/devices/:id/revoke", { schema: { params: deviceIdParams, body: revokeBody } }, async (req): Promise<RevokeResult & { status: "revoked" | "tokensCancelled" }> => {
    const { id } = req.params as { id: string };
    req.fgDeviceId = id;
    const reason: RevocationReason = (req.body as { reason?: RevocationReason } | null)?.reason ?? "unspecified";
    const r = await revokeDevice(ctx, id, reason, req.admin!.actor);
    req.log.info({ deviceId: id, reason, serials: r.serials, actor: req.admin!.actor, alreadyRevoked: r.alreadyRevoked, tokensCancelled: r.tokensCancelled }, "device revoked");
    return { ...r, status: r.enrolled ? "revoked" : "tokensCancelled" };
  });

  app.post("/api/v1/tokens", { schema: { body: tokenBody } }, async (req, reply) => {
    const b = req.body as { deviceId: string; ttlSeconds?: number; reprovision?: boolean };
    req.fgDeviceId = b.deviceId;
    const t = await createToken(ctx, b.deviceId, b.ttlSeconds ?? DEFAULT_TOKEN_TTL, req.admin!.actor, { reprovision: b.reprovision === true });
    req.log.info({ deviceId: b.deviceId, expiresAt: t.expiresAt, reprovision: b.reprovision === true, actor: req.admin!.actor }, "token created");
    return reply.code(201).send(t);
  });

  app.get("/api/v1/tokens", async () => listTokens(ctx.store, ctx.clock()));

  app.delete("/api/v1/tokens/:deviceId", { schema: { params: tokenDeviceParams } }, async (req) => {
    const { deviceId } = req.params as { deviceId: string };
    req.fgDeviceId = deviceId;
    const r = await revokeTokens(ctx, deviceId, req.admin!.actor);
    req.log.info({ deviceId, cancelled: r.cancelled, actor: req.admin!.actor }, "tokens cancelled");
    return r;
  });

  app.get("/api/v1/credentials", async () => listCredentials(ctx.store, ctx.clock()));

  app.post("/api/v1/credentials/:name/revoke", { schema: { params: credentialNameParams, body: revokeBody } }, async (req) => {
    const { name } = req.params as { name: string };
    const reason: RevocationReason = (req.body as { reason?: RevocationReason } | null)?.reason ?? "unspecified";
    const r = await revokeCredential(ctx, name, reason, req.admin!.actor);
    req.log.info({ name, role: r.role, reason, serials: r.serials, actor: req.admin!.actor, alreadyRevoked: r.alreadyRevoked }, "credential revoked");
    return { ...r, status: "revoked" };
  });

  app.get("/api/v1/audit", { schema: { querystring: auditQuery } }, async (req) => {
    const q = req.query as { limit?: number; deviceId?: string; type?: string; security?: string };
    const security = q.security === "true" || q.security === "1";
    const events = await ctx.store.audit.query({ limit: q.limit ?? DEFAULT_AUDIT_LIMIT, deviceId: q.deviceId, type: q.type, security });
    return events.map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
  });
}
