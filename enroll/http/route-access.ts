import type { FastifyInstance, FastifyRequest, onRequestHookHandler, RouteOptions } from "fastify";
import { GatewayError } from "../../errors.js";
import { routePolicy, type RouteAuth } from "./route-policy.js";
import { checkRequestTarget } from "./request-target.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may reach the route (see route-policy.ts); required outside /api and /console. */
    auth?: RouteAuth;
  }
}

const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

export interface RouteAccess {
  /** Registers the 405 answers for every path's other methods; call once all routes are registered. */
  refuseOtherMethods(): void;
  /** The methods a path pattern serves and its policy, for the not-found fallback. */
  readonly served: ReadonlyMap<string, { auth: RouteAuth; methods: ReadonlySet<string> }>;
  /** Every route registered, the 405 answers included, with the policy it got. */
  readonly registered: readonly RegisteredRoute[];
}

export interface RegisteredRoute { readonly method: string; readonly url: string; readonly auth: RouteAuth }

/**
 * Attaches authorization to routes themselves, in one place: every route
 * registered on `app` or any scope under it passes through this onRoute hook,
 * which decides its policy from its pattern (deny by default, see routePolicy)
 * and, for admin routes, puts the admin check first among the route's own
 * onRequest hooks. The check thus runs for whatever spelling of a target the
 * router matched to the route, and before the body is read.
 * Also refuses ambiguous request targets (400) before any route's hooks run.
 */
export function installRouteAccess(app: FastifyInstance, authorizeAdmin: (req: FastifyRequest) => Promise<void>): RouteAccess {
  const adminCheck: onRequestHookHandler = async (req) => authorizeAdmin(req);
  const served = new Map<string, { auth: RouteAuth; methods: Set<string> }>();
  let refusing = false;
  const registered: RegisteredRoute[] = [];

  app.addHook("onRequest", async (req) => {
    const v = checkRequestTarget(req.raw.url ?? "");
    if (!v.ok) throw new GatewayError("FG_TARGET_INVALID", v.reason);
  });

  app.addHook("onRoute", (r: RouteOptions) => {
    const declared = (r.config as { auth?: RouteAuth } | undefined)?.auth;
    const auth = routePolicy(r.url, declared);
    r.config = { ...(r.config as object), auth } as RouteOptions["config"];
    if (auth === "admin") r.onRequest = [adminCheck, ...asArray(r.onRequest)];
    for (const m of asArray(r.method)) registered.push({ method: m.toUpperCase(), url: r.url, auth });
    if (refusing) return;
    const entry = served.get(r.url) ?? { auth, methods: new Set<string>() };
    for (const m of asArray(r.method)) entry.methods.add(m.toUpperCase());
    served.set(r.url, entry);
  });

  return {
    served,
    registered,
    refuseOtherMethods() {
      refusing = true;
      for (const [url, { auth, methods }] of [...served]) {
        const allow = [...methods].sort();
        const others = app.supportedMethods.filter((m) => !methods.has(m));
        if (others.length === 0) continue;
        // Thrown from onRequest, after the admin check and before any body parsing,
        // so a wrong method is 405 whatever body and content type it carries (RFC 9110 §15.5.6).
        const refuse: onRequestHookHandler = async (req) => {
          throw new GatewayError("FG_METHOD_NOT_ALLOWED", `method ${req.method} is not allowed here; use ${allow.join(", ")}`, { allow });
        };
        app.route({ method: others, url, config: { auth }, onRequest: refuse, handler: async () => undefined });
      }
    },
  };
}
