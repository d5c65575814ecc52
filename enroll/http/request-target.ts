/**
 * Request-target screening (RFC 9112 §3.2), before routing. Pure.
 *
 * The router percent-decodes the path once and matches it literally; everything
 * that another component (a proxy, a log reader, a future router) could read as
 * a different path is refused here with 400, so one request has one meaning:
 * - only origin-form (`/path?query`) and absolute-form (`https://host/path`,
 *   RFC 9112 §3.2.2, which a server must accept) targets; authority-form and
 *   asterisk-form are for CONNECT and OPTIONS * only;
 * - no dot segments (RFC 3986 §5.2.4), literal or percent-encoded;
 * - no encoded "/" or "\" and no backslash, so a segment cannot become two;
 * - no empty segment inside the path ("//");
 * - no control characters, NUL or malformed percent-encoding.
 * Percent-encoded ordinary characters (`/%61pi`) stay legal: they decode to one
 * path, and authorization is attached to the route that path matches.
 */
export type TargetVerdict = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

const ABSOLUTE = /^https?:\/\/[^/?#]*/i;

export function checkRequestTarget(target: string): TargetVerdict {
  let rest = target;
  if (!rest.startsWith("/")) {
    const m = ABSOLUTE.exec(rest);
    if (!m) return { ok: false, reason: "request target must be origin-form (/path) or absolute-form (https://host/path)" };
    rest = rest.slice(m[0].length);
    if (rest === "" || rest.startsWith("?")) rest = `/${rest}`;
    if (!rest.startsWith("/")) return { ok: false, reason: "absolute-form request target has no path" };
  }
  const q = rest.search(/[?#]/);
  const raw = q < 0 ? rest : rest.slice(0, q);
  if (/[\x00-\x20\x7f\\]/.test(raw)) return { ok: false, reason: "request path holds a control character, space or backslash" };
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return { ok: false, reason: "request path holds a malformed percent-encoding" };
  if (/%(2f|5c|00)/i.test(raw)) return { ok: false, reason: "request path holds an encoded slash, backslash or NUL" };
  if (raw.includes("//")) return { ok: false, reason: "request path holds an empty segment (//)" };
  const segments = raw.split("/").slice(1);
  for (const s of segments) {
    const plain = s.replace(/%2e/gi, ".");
    // A dot segment, also with a ";param" (some servers strip parameters before resolving).
    const name = plain.split(";", 1)[0];
    if (name === "." || name === "..") return { ok: false, reason: "request path holds a dot segment" };
  }
  return { ok: true, path: raw };
}
