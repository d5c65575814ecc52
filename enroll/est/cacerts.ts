import type { FastifyInstance } from "fastify";
import type { HttpsContext } from "../https-server.js";
import { encodeBase64 } from "./body.js";
import { certsOnly } from "./pkcs7.js";

/**
 * GET /.well-known/est/cacerts (RFC 7030 §4.1): the issuing CA and the root,
 * as a certs-only PKCS#7, base64 (RFC 8951). No authentication (§4.1.1): a
 * client bootstraps its trust from here (out-of-band check of the root, §4.1.1).
 * The answer never changes while the gateway runs, so it is encoded once.
 */
export function registerCacerts(app: FastifyInstance, ctx: HttpsContext): void {
  const body = encodeBase64(certsOnly([ctx.ca.issuingDer, ctx.ca.rootDer]));
  app.get("/.well-known/est/cacerts", { config: { estOp: "cacerts", auth: "public" } }, async (_req, reply) =>
    reply.code(200).type("application/pkcs7-mime").header("Content-Transfer-Encoding", "base64").send(body));
}
