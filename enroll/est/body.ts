import { GatewayError } from "../../errors.js";
import { base64Lines } from "../../pki/der.js";

/**
 * EST message bodies (RFC 7030 §4, as clarified by RFC 8951 §3): DER encoded as
 * base64 (RFC 4648 §4), with or without line breaks; no PEM armour, and no
 * Content-Transfer-Encoding header is needed (it is ignored when sent).
 */

/** The media type of a Content-Type header, lowercased, parameters dropped (RFC 9110 §8.3.1). */
export function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const t = header.split(";", 1)[0]!.trim().toLowerCase();
  return t === "" ? undefined : t;
}

const WS = /[\t\n\r ]+/g;
const B64 = /^[A-Za-z0-9+/]*$/;

/**
 * Strict base64 decoding. Whitespace (line breaks included) is skipped; any
 * other character outside the alphabet, misplaced padding or an impossible
 * length is refused, unlike Buffer.from(s, "base64") which silently skips junk.
 * Missing padding is tolerated (a lenient reader, RFC 4648 §3.2 leaves it to the spec).
 */
export function decodeBase64(text: string): Buffer {
  const s = text.replace(WS, "");
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  const body = s.slice(0, s.length - pad);
  if (body.length === 0 || !B64.test(body)) throw new GatewayError("FG_BODY_MALFORMED");
  if (pad > 0 ? s.length % 4 !== 0 : body.length % 4 === 1) throw new GatewayError("FG_BODY_MALFORMED");
  return Buffer.from(body, "base64");
}

/** Decodes an EST request body (bytes as received) into DER. */
export function decodeEstBody(raw: Buffer | undefined): Buffer {
  if (!raw || raw.length === 0) throw new GatewayError("FG_BODY_MALFORMED", "request body is empty");
  // latin1 maps every byte to one char, so a non-ASCII byte can never sneak past the alphabet check.
  return decodeBase64(raw.toString("latin1"));
}

/** base64 with a line break every 64 characters: readable by `openssl base64 -d` as well as by strict decoders. */
export const encodeBase64 = (der: Uint8Array): string => base64Lines(der);
