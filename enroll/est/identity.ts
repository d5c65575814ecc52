import type { FastifyRequest } from "fastify";
import { GatewayError } from "../../errors.js";
import type { Authorization } from "../enrollment.js";
import type { HttpsPeer } from "../../pki/peer.js";
import { isValidName } from "../../pki/roles.js";
import { parseBasicAuth } from "./auth.js";

/**
 * Translates an EST request's credentials into an Authorization (the domain's
 * input). `presented` tells the failed-auth limiter whether a refusal was a
 * wrong credential (counted) or a missing one (not counted).
 */
export interface Attempt {
  presented: boolean;
  deviceId?: string;
}

/**
 * simpleenroll (README "EST enrollment"): HTTP Basic <deviceId>:<token> when an
 * Authorization header is sent, otherwise a TLS client certificate chaining to
 * --bootstrap-ca whose CN is the device id (RFC 7030 §3.3.2).
 */
export function enrollAuthorization(req: FastifyRequest, peer: () => HttpsPeer, attempt: Attempt): Authorization {
  const basic = parseBasicAuth(req.headers.authorization);
  if (basic.kind !== "none") {
    attempt.presented = true;
    if (basic.kind === "malformed") throw new GatewayError("FG_AUTH_REQUIRED", "malformed HTTP Basic credentials");
    // Same answer for an impossible device id as for a wrong token: nothing to learn from the difference.
    if (!isValidName(basic.user) || basic.password === "") throw new GatewayError("FG_TOKEN_INVALID");
    attempt.deviceId = basic.user;
    return { kind: "token", deviceId: basic.user, token: basic.password };
  }
  const p = peer();
  switch (p.kind) {
    case "none":
      throw new GatewayError("FG_AUTH_REQUIRED", "credentials required: HTTP Basic <deviceId>:<token> or a manufacturer certificate");
    case "untrusted":
      attempt.presented = true;
      throw new GatewayError("FG_BOOTSTRAP_UNTRUSTED", `manufacturer certificate refused (${p.reason})`);
    case "gateway":
      attempt.presented = true;
      throw new GatewayError("FG_CLIENT_CERT_INVALID", "a certificate from this gateway renews through simplereenroll");
    case "bootstrap": {
      attempt.presented = true;
      const cn = p.facts.commonName;
      if (!isValidName(cn)) throw new GatewayError("FG_CLIENT_CERT_INVALID", "manufacturer certificate CN is not a valid device id");
      attempt.deviceId = cn;
      return { kind: "bootstrap", deviceId: cn, facts: p.facts };
    }
  }
}

/** simplereenroll (RFC 7030 §4.2.2): the device's current certificate from this gateway, over TLS. */
export function reenrollAuthorization(peer: HttpsPeer, attempt: Attempt): Authorization {
  switch (peer.kind) {
    case "none":
      throw new GatewayError("FG_AUTH_REQUIRED", "re-enrollment requires the current device certificate as TLS client certificate");
    case "untrusted":
      attempt.presented = true;
      throw new GatewayError("FG_CLIENT_CERT_INVALID", `client certificate refused (${peer.reason})`);
    case "bootstrap":
      attempt.presented = true;
      throw new GatewayError("FG_CLIENT_CERT_INVALID", "a manufacturer certificate enrolls through simpleenroll");
    case "gateway":
      attempt.presented = true;
      if (isValidName(peer.facts.commonName)) attempt.deviceId = peer.facts.commonName;
      return { kind: "certificate", facts: peer.facts, fingerprint: peer.fingerprint };
  }
}
