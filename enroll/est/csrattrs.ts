import type { FastifyInstance } from "fastify";

/**
 * GET /.well-known/est/csrattrs (RFC 7030 §4.5). Answered 204 ("no CSR
 * attributes", §4.5.2) on purpose: the certificate's content comes from the
 * profile alone, whatever the CSR asks (README "Architecture", roles), and the one thing the CSR
 * must carry, CN=<deviceId>, is a value csrattrs cannot express. Several key
 * types are accepted (EC P-256/P-384, RSA >= 2048, Ed25519), so naming one would
 * only narrow the client's choice without telling it anything it must do.
 */
export function registerCsrattrs(app: FastifyInstance): void {
  app.get("/.well-known/est/csrattrs", { config: { estOp: "csrattrs", auth: "public" } }, async (_req, reply) => reply.code(204).send());
}
