/**
 * Who may reach a route, decided once, when the route is registered, from the
 * route's own pattern (not from the spelling of a request's target). Pure.
 *
 * - "admin": an admin client certificate (the admin API); checked before the
 *   body is read, by a hook attached to the route itself.
 * - "est": the EST operation authenticates inside its handler (token, manufacturer
 *   or device certificate; RFC 7030 §3.2.3, §3.3).
 * - "public": no credential at all (the CRL, RFC 5280 §5; the console sign-in page).
 */
export type RouteAuth = "admin" | "est" | "public";

/** Prefixes whose routes are always admin-only, whatever a route declares. */
const ADMIN_ONLY = ["/api/", "/api"];
/** Prefixes whose routes are admin-only unless they declare otherwise explicitly. */
const ADMIN_BY_DEFAULT = ["/console"];

const under = (url: string, prefixes: readonly string[]) => {
  const u = url.toLowerCase();
  return prefixes.some((p) => u === p || u.startsWith(p.endsWith("/") ? p : `${p}/`));
};

export class RoutePolicyError extends Error {}

/**
 * The policy a route gets. Deny by default: a route under /api is admin-only and
 * cannot be declared otherwise; a console route is admin-only unless it says
 * otherwise; any other route must declare its policy or it is not registered.
 */
export function routePolicy(url: string, declared: RouteAuth | undefined): RouteAuth {
  if (under(url, ADMIN_ONLY)) {
    if (declared !== undefined && declared !== "admin") throw new RoutePolicyError(`route ${url} is under /api and must be admin-only, not "${declared}"`);
    return "admin";
  }
  if (under(url, ADMIN_BY_DEFAULT)) return declared ?? "admin";
  if (declared === undefined) throw new RoutePolicyError(`route ${url} declares no access policy (config.auth)`);
  return declared;
}
