/**
 * HTTP Basic credentials (RFC 7617) as EST uses them for initial enrollment
 * (RFC 7030 §3.2.3): user = device id, password = one-time bootstrap token.
 */
export type BasicCredentials =
  | { readonly kind: "none" }
  | { readonly kind: "malformed" }
  | { readonly kind: "basic"; readonly user: string; readonly password: string };

const MAX_HEADER = 1024;

export function parseBasicAuth(header: string | undefined): BasicCredentials {
  if (header === undefined || header.trim() === "") return { kind: "none" };
  if (header.length > MAX_HEADER) return { kind: "malformed" };
  // RFC 7617 §2: the scheme name is case-insensitive; token68 is base64 of "user-id:password".
  const m = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  if (!m) return { kind: "malformed" };
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  // RFC 7617 §2: the user-id cannot contain a colon, so the first colon separates.
  if (colon < 0) return { kind: "malformed" };
  return { kind: "basic", user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
