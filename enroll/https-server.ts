import fs from "node:fs";
import type https from "node:https";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyError, type FastifyReply, type FastifyRequest } from "fastify";
import type { Server as TlsServer, TLSSocket } from "node:tls";
import { ConnectionGuard } from "../front/guard.js";
import type { Deps } from "../runtime/deps.js";
import type { Metrics } from "../runtime/metrics.js";
import { GatewayError, toGatewayError } from "../errors.js";
import type { LoadedPki } from "../pki/data-dir-files.js";
import { CrlService } from "./crl-service.js";
import { bootstrapAnchors, PeerCertCache, type HttpsPeer, type TrustAnchors } from "../pki/peer.js";
import { bindPeers } from "./peer-binding.js";
import { tlsServerPolicy } from "../front/tls-policy.js";
import { fromPemAll, toPem } from "../pki/der.js";
import { registerEst } from "./est/index.js";
import { registerAdminApi } from "./admin-api/index.js";
import { authorizeAdmin } from "./admin-api/auth.js";
import { installRouteAccess, type RegisteredRoute, type RouteAccess } from "./http/route-access.js";
import { checkRequestTarget } from "./http/request-target.js";
import { CanonicalHeaderResponse } from "./http/header-case.js";

export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpsContext extends Deps {
  readonly metrics: Metrics;
  readonly crl: CrlService;
  readonly pki: LoadedPki;
  readonly peer: (req: FastifyRequest) => HttpsPeer;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set by a route that knows the device, so refusal logs carry it. */
    fgDeviceId?: string;
  }
}

/** Loads --bootstrap-ca (PEM bundle); a bad file is a configuration error, not a runtime surprise. */
export function loadBootstrapCas(file: string | undefined): Buffer[] {
  if (!file) return [];
  let pem: string;
  try {
    pem = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new GatewayError("FG_CONFIG_INVALID", `cannot read --bootstrap-ca ${file}: ${(e as Error).message}`);
  }
  const ders = fromPemAll(pem);
  if (ders.length === 0) throw new GatewayError("FG_CONFIG_INVALID", `--bootstrap-ca ${file} holds no PEM certificate`);
  return ders;
}

/** The request's path as the router reads it (decoded once), or undefined when it is not screenable. */
function routedPath(req: FastifyRequest): string | undefined {
  const v = checkRequestTarget(req.raw.url ?? "");
  if (!v.ok) return undefined;
  try {
    return decodeURIComponent(v.path);
  } catch {
    return undefined;
  }
}

/**
 * Whether an answer is the admin API's (JSON) rather than EST's (text): decided by
 * the matched route's policy, never by the spelling of the target. A request that
 * matched no route is judged on its decoded path, only to choose the format.
 */
function isApi(req: FastifyRequest): boolean {
  const auth = req.routeOptions.config?.auth;
  if (auth !== undefined) return auth === "admin";
  return routedPath(req)?.toLowerCase().startsWith("/api/") ?? false;
}

/** Errors become one-line text (EST, RFC 7030 §4.2.3 leaves the body free) or JSON {code,message} (admin API). */
export function sendError(req: FastifyRequest, reply: FastifyReply, err: GatewayError): FastifyReply {
  const api = isApi(req);
  if (err.status === 401 && !api) reply.header("WWW-Authenticate", 'Basic realm="est"');
  if (err.retryAfter !== undefined) reply.header("Retry-After", String(err.retryAfter));
  if (err.allow !== undefined) reply.header("Allow", err.allow.join(", "));
  reply.code(err.status);
  if (api) return reply.type("application/json").send({ code: err.code, message: err.message });
  return reply.type("text/plain; charset=utf-8").send(`${err.message.replace(/[\r\n]+/g, " ")}\n`);
}

/** fastify's own refusals (body limit, content type, schema) mapped onto the error table. */
function fromFastify(e: FastifyError): GatewayError {
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE": return new GatewayError("FG_BODY_TOO_LARGE");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE": return new GatewayError("FG_CONTENT_TYPE");
    case "FST_ERR_VALIDATION": return new GatewayError("FG_BODY_INVALID", e.message);
    default:
      if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new GatewayError("FG_BODY_INVALID", e.message);
      return toGatewayError(e);
  }
}

/**
 * 404, or 405 for a method the router does not know at all (fastify routes only
 * the methods it supports) on a path that exists. Admin paths answer 404 here:
 * telling an unauthenticated client which methods they serve would leak them.
 */
function notFound(req: FastifyRequest, access: RouteAccess): GatewayError {
  const path = routedPath(req);
  const route = path === undefined ? undefined : access.served.get(path);
  if (route && route.auth !== "admin" && !route.methods.has(req.method)) {
    const allow = [...route.methods].sort();
    return new GatewayError("FG_METHOD_NOT_ALLOWED", `method ${req.method} is not allowed here; use ${allow.join(", ")}`, { allow });
  }
  return new GatewayError("FG_NOT_FOUND");
}

/**
 * The HTTPS listener shared by EST (RFC 7030), the admin API and /crl. It asks
 * for a client certificate but does not require one: initial enrollment has
 * none, and each route decides from the classified peer.
 */
export async function startHttps(d: Deps & { metrics: Metrics; pki: LoadedPki; verdicts?: PeerCertCache }): Promise<{ app: FastifyInstance; port: number; routes: readonly RegisteredRoute[]; stopAccepting: () => void; close: () => Promise<void> }> {
  const bootstrap = loadBootstrapCas(d.config.bootstrapCaFile);
  const verdicts = d.verdicts ?? new PeerCertCache(d.pki.issuingDer);
  const anchors: TrustAnchors = { issuing: verdicts.issuing, bootstrap: bootstrapAnchors(bootstrap), verdicts };
  const app = Fastify({
    https: {
      key: d.pki.serverKeyPem,
      cert: d.pki.serverCertChainPem,
      ca: [d.pki.rootDer, d.pki.issuingDer, ...bootstrap].map((der) => toPem(der, "CERTIFICATE")),
      requestCert: true,
      rejectUnauthorized: false,
      ...tlsServerPolicy(d.config.tlsSessionSeconds),
      // Header names go out in canonical case (Content-Type, WWW-Authenticate): see header-case.ts.
      ServerResponse: CanonicalHeaderResponse,
    } as https.ServerOptions,
    loggerInstance: d.log.child({ part: "https" }) as FastifyBaseLogger,
    // Per-request lines would flood the log under a storm; refusals are logged with their code instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    // Refuse unknown fields instead of silently dropping them (fastify's default strips them).
    ajv: { customOptions: { removeAdditional: false } },
    return503OnClosing: true,
    // A HEAD the routes do not declare is answered 405 like any other method they do not serve.
    exposeHeadRoutes: false,
    forceCloseConnections: true,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
  });
  // First, before any route exists: every route registered from here on, in any scope, gets its
  // access policy from its pattern (deny by default), and admin routes their admin check.
  const access = installRouteAccess(app, async (req) => {
    req.admin = await authorizeAdmin(ctx, req);
  });
  // A connection has handshakeTimeoutMs to finish TLS and as long again to send a request's
  // headers; until then it is pending, bounded in total and per source address, and excess
  // connections are closed before TLS (front/guard.ts).
  const guard = new ConnectionGuard(app.server as TlsServer, {
    listener: "https",
    limits: { maxPending: d.config.limits.maxPendingConnections, maxPendingPerSource: d.config.limits.maxPendingPerAddress },
    timeoutMs: d.config.limits.handshakeTimeoutMs,
    settledBy: "request",
    clock: d.clock, log: d.log.child({ part: "https" }), metrics: d.metrics,
  });
  app.server.on("request", (req: { socket: TLSSocket }) => guard.settle(req.socket));
  app.addHook("preClose", async () => guard.destroyPending());
  // A keep-alive connection (the admin API, a renewing device) keeps its peer: classified once,
  // at the end of its handshake, from the certificate that handshake verified.
  const peerOf = bindPeers(app.server as unknown as TlsServer, anchors, (socket, peer) => {
    const facts = peer.kind === "gateway" || peer.kind === "bootstrap" ? peer.facts : undefined;
    app.log.warn({ code: "FG_TLS_RENEGOTIATION", serial: facts?.serial, deviceId: facts?.role === "device" || peer.kind === "bootstrap" ? facts?.commonName : undefined, remoteAddress: socket.remoteAddress }, "TLS renegotiation refused; connection closed");
  });
  const ctx: HttpsContext = {
    ...d,
    crl: new CrlService({ store: d.store, ca: d.ca, clock: d.clock }),
    peer: (req) => peerOf(req.raw.socket as TLSSocket),
  };

  app.setErrorHandler((error: FastifyError, req, reply) => {
    const ge = error instanceof GatewayError ? error : fromFastify(error);
    const fields = { code: ge.code, deviceId: req.fgDeviceId, method: req.method, url: req.url.split("?")[0], ip: req.ip };
    // fastify closes the connection on an oversized body while the client may still be sending it;
    // the client then sees EPIPE instead of our 413. Let Node read and discard the rest instead
    // (bounded by requestTimeout), so the refusal reliably reaches the client.
    if (ge.code === "FG_BODY_TOO_LARGE") reply.removeHeader("connection");
    if (ge.status >= 500) req.log.error({ ...fields, err: error }, "request failed");
    else req.log.warn(fields, ge.message);
    return sendError(req, reply, ge);
  });
  app.setNotFoundHandler((req, reply) => sendError(req, reply, notFound(req, access)));

  // RFC 5280 §5 CRL, DER, no client certificate needed.
  app.get("/crl", { config: { auth: "public" } }, async (_req, reply) => reply.type("application/pkix-crl").header("Cache-Control", "max-age=60").send(await ctx.crl.current()));

  await app.register(async (scope) => registerEst(scope, ctx));
  await app.register(async (scope) => registerAdminApi(scope, ctx));
  access.refuseOtherMethods();

  await app.listen({ port: d.config.httpsPort, host: d.config.host });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : d.config.httpsPort;
  // Stop accepting first (a drain's first step); app.close() then ends the open connections
  // (fastify tolerates the server being closed already).
  const stopAccepting = () => {
    if (app.server.listening) app.server.close();
  };
  return { app, port, routes: access.registered, stopAccepting, close: () => app.close() };
}
