import type { FastifyInstance, onRequestHookHandler } from "fastify";
import { enrollAuthorization } from "./identity.js";
import { runEnrollment, type EstOperationContext } from "./operation.js";

/** POST /.well-known/est/simpleenroll (RFC 7030 §4.2.1): initial enrollment by token or manufacturer certificate. */
export function registerSimpleEnroll(app: FastifyInstance, o: EstOperationContext, limit: onRequestHookHandler): void {
  app.post("/.well-known/est/simpleenroll", { config: { estOp: "simpleenroll", auth: "est" }, onRequest: limit }, async (req, reply) =>
    runEnrollment(o, "simpleenroll", req, reply, (attempt) => enrollAuthorization(req, () => o.ctx.peer(req), attempt)));
}
