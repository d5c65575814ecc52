import type { FastifyInstance, onRequestHookHandler } from "fastify";
import { reenrollAuthorization } from "./identity.js";
import { runEnrollment, type EstOperationContext } from "./operation.js";

/**
 * POST /.well-known/est/simplereenroll (RFC 7030 §4.2.2): the device renews
 * with its current certificate as TLS client certificate; the new key may
 * differ, and the old certificate stays valid until it expires or is revoked.
 */
export function registerSimpleReenroll(app: FastifyInstance, o: EstOperationContext, limit: onRequestHookHandler): void {
  app.post("/.well-known/est/simplereenroll", { config: { estOp: "simplereenroll", auth: "est" }, onRequest: limit }, async (req, reply) =>
    runEnrollment(o, "simplereenroll", req, reply, (attempt) => reenrollAuthorization(o.ctx.peer(req), attempt)));
}
