import type { FastifyError, FastifyInstance, onRequestHookHandler } from "fastify";
import { GatewayError } from "../../errors.js";
import type { HttpsContext } from "../https-server.js";
import { registerCacerts } from "./cacerts.js";
import { registerCsrattrs } from "./csrattrs.js";
import { registerSimpleEnroll } from "./simpleenroll.js";
import { registerSimpleReenroll } from "./simplereenroll.js";
import { FailureLimiter } from "./rate-limit.js";
import { mediaType } from "./body.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The EST operation a route serves (metrics label). */
    estOp?: "cacerts" | "csrattrs" | "simpleenroll" | "simplereenroll";
  }
  interface FastifyRequest {
    /** The error code a refused EST request was answered with (metrics label). */
    estCode?: string;
  }
}

/** The request media type of simpleenroll and simplereenroll (RFC 7030 §4.2.1). */
export const PKCS10 = "application/pkcs10";

/** Error code of whatever reached the error handler, for the metrics label. */
function codeOf(e: FastifyError | GatewayError): string {
  if (e instanceof GatewayError) return e.code;
  if (e.statusCode === 413) return "FG_BODY_TOO_LARGE";
  if (e.statusCode === 415) return "FG_CONTENT_TYPE";
  return e.statusCode !== undefined && e.statusCode < 500 ? "FG_BODY_INVALID" : "FG_INTERNAL";
}

/**
 * EST routes under /.well-known/est/ (RFC 7030 §3.2.2, README "EST enrollment"). This is an
 * encapsulated fastify scope: only application/pkcs10 bodies are parsed here,
 * so any other type is refused 415 before its body is read, and fastify's
 * bodyLimit (64 KiB) refuses larger bodies 413 before they are buffered whole.
 */
export async function registerEst(app: FastifyInstance, ctx: HttpsContext): Promise<void> {
  app.removeAllContentTypeParsers();
  // Parameters after ";" are accepted: fastify matches on the media type.
  app.addContentTypeParser(PKCS10, { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  const limiter = new FailureLimiter({ limit: ctx.config.limits.authFailuresPerMinute, clock: ctx.clock });
  // Runs before the body is read: a blocked address costs no parsing, and no guess is checked.
  const limit: onRequestHookHandler = async (req) => {
    const wait = limiter.blockedFor(req.ip);
    if (wait !== undefined) throw new GatewayError("FG_RATE_LIMITED", undefined, { retryAfter: wait });
  };
  // A POST without a body never reaches a content-type parser; refuse its missing type here.
  app.addHook("preHandler", async (req) => {
    if (req.method === "POST" && mediaType(req.headers["content-type"]) !== PKCS10) throw new GatewayError("FG_CONTENT_TYPE");
  });
  app.addHook("onError", async (req, _reply, error) => {
    req.estCode = codeOf(error);
  });
  app.addHook("onResponse", async (req, reply) => {
    const op = req.routeOptions.config.estOp;
    if (!op) return;
    ctx.metrics.enrollLatency.observe({ operation: op }, reply.elapsedTime / 1000);
    if (op === "simpleenroll" || op === "simplereenroll") {
      ctx.metrics.enrollments.inc({ operation: op, result: reply.statusCode < 400 ? "ok" : (req.estCode ?? String(reply.statusCode)) });
    }
  });

  const o = { ctx, limiter };
  registerCacerts(app, ctx);
  registerCsrattrs(app);
  registerSimpleEnroll(app, o, limit);
  registerSimpleReenroll(app, o, limit);
}
