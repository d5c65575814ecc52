/**
 * The one table of stable error codes. Every refusal in the gateway carries one
 * of these codes; the HTTP status and the MQTT CONNACK return code are decided
 * here and applied only at the protocol edge (EST/admin HTTP, aedes hooks).
 * test/unit/errors.test.ts keeps this table and the README in step.
 */
export interface ErrorSpec {
  /** HTTP status used by the EST and admin API edges. */
  readonly status: number;
  /** MQTT 3.1.1 CONNACK return code, when the error can refuse a connection. */
  readonly connack?: number;
  /** Default one-line message; never contains a secret. */
  readonly message: string;
}

export const ERRORS = {
  FG_USAGE: { status: 400, message: "invalid usage" },
  FG_CONFIG_INVALID: { status: 400, message: "invalid configuration" },
  FG_DEVICE_ID_INVALID: { status: 400, message: "device id must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" },
  FG_NAME_INVALID: { status: 400, message: "name must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" },
  FG_BODY_MALFORMED: { status: 400, message: "request body is not valid base64 DER" },
  FG_BODY_INVALID: { status: 400, message: "request body is invalid" },
  FG_BODY_TOO_LARGE: { status: 413, message: "request body exceeds 64 KiB" },
  FG_CONTENT_TYPE: { status: 415, message: "unsupported content type" },
  FG_CSR_MALFORMED: { status: 400, message: "CSR is not a valid PKCS#10 request" },
  FG_CSR_SIGNATURE_INVALID: { status: 400, message: "CSR signature does not verify (no proof of possession)" },
  FG_CSR_SIGNATURE_ALG_UNSUPPORTED: { status: 400, message: "CSR signature algorithm is not supported" },
  FG_CSR_KEY_UNSUPPORTED: { status: 400, message: "CSR key must be EC P-256/P-384, RSA >= 2048 bits or Ed25519" },
  FG_CSR_KEY_WEAK: { status: 400, message: "CSR public key is degenerate: signatures under it prove nothing (RSA e < 65537 or even, EC point invalid, small-order Ed25519 point)" },
  FG_CSR_KEY_REUSED: { status: 409, message: "CSR public key is already certified for another identity" },
  FG_RENEWAL_RATE: { status: 429, message: "too many certificates issued to this device recently, retry later" },
  FG_CSR_SUBJECT_INVALID: { status: 400, message: "CSR subject must be exactly one CN" },
  FG_CSR_SUBJECT_MISMATCH: { status: 403, message: "CSR subject does not match the authorized identity" },
  FG_AUTH_REQUIRED: { status: 401, message: "credentials required" },
  FG_TOKEN_INVALID: { status: 401, message: "bootstrap token is invalid, expired or already used" },
  FG_CLIENT_CERT_INVALID: { status: 401, message: "client certificate is not valid for this operation" },
  FG_BOOTSTRAP_UNTRUSTED: { status: 401, message: "manufacturer certificate does not chain to a trusted bootstrap CA" },
  FG_DEVICE_UNKNOWN: { status: 403, message: "device is unknown", connack: 5 },
  FG_DEVICE_REVOKED: { status: 403, message: "device is revoked", connack: 5 },
  FG_CERT_REVOKED: { status: 403, message: "certificate is revoked", connack: 5 },
  FG_CERT_UNKNOWN: { status: 403, message: "certificate is not in the registry", connack: 5 },
  FG_CERT_EXPIRED: { status: 403, message: "certificate is expired or not yet valid", connack: 5 },
  FG_ROLE_FORBIDDEN: { status: 403, message: "this role may not perform this operation", connack: 5 },
  FG_ADMIN_CERT_REQUIRED: { status: 401, message: "an admin client certificate is required" },
  FG_RATE_LIMITED: { status: 429, message: "too many failed attempts, retry later" },
  FG_NOT_FOUND: { status: 404, message: "not found" },
  FG_METHOD_NOT_ALLOWED: { status: 405, message: "method not allowed on this path" },
  FG_TARGET_INVALID: { status: 400, message: "request target is ambiguous or not in origin-form or absolute-form" },
  FG_NAME_TAKEN: { status: 409, message: "name is already held by another device or credential" },
  FG_DEVICE_ENROLLED: { status: 409, message: "device already has a valid certificate; re-provisioning must be asked for explicitly" },
  FG_DEVICE_ID_TAKEN: { status: 403, message: "device id is the name of a service or admin credential", connack: 5 },
  FG_TOKEN_DEVICE_REVOKED: { status: 409, message: "device is revoked; a token cannot re-admit it" },
  FG_MQTT_NO_CERT: { status: 401, message: "no verified client certificate", connack: 5 },
  FG_MQTT_CERT_INVALID: { status: 403, message: "client certificate is not a gateway client certificate (issuer, CA flag, EKU or role)", connack: 5 },
  FG_MQTT_CLIENTID_MISMATCH: { status: 403, message: "clientId is not bound to the certificate identity", connack: 5 },
  FG_MQTT_CLIENTID_TAKEN: { status: 403, message: "clientId belongs to another device or credential", connack: 5 },
  FG_MQTT_WILL_DENIED: { status: 403, message: "will topic is not allowed for this identity", connack: 5 },
  FG_MQTT_CONNECT_RATE: { status: 429, message: "connection rate limit exceeded (per address or in total); closed before TLS" },
  FG_CONNECTION_LIMIT: { status: 503, message: "too many connections waiting to authenticate (in total or from one address); closed before TLS" },
  FG_HANDSHAKE_TIMEOUT: { status: 408, message: "TLS handshake (or MQTT CONNECT) not completed in time; connection closed" },
  FG_MQTT_SHUTTING_DOWN: { status: 503, message: "gateway is shutting down", connack: 3 },
  FG_ACL_PUBLISH_DENIED: { status: 403, message: "publish denied by ACL" },
  FG_ACL_SUBSCRIBE_DENIED: { status: 403, message: "subscription denied by ACL" },
  FG_MQTT_PUBLISH_RATE: { status: 429, message: "publish rate limit exceeded" },
  FG_MQTT_TOO_MANY_SUBSCRIPTIONS: { status: 403, message: "subscription limit exceeded" },
  FG_MQTT_PACKET_TOO_LARGE: { status: 413, message: "MQTT packet exceeds the size limit" },
  FG_MQTT_TLS_FAILED: { status: 401, message: "TLS handshake failed (no, unknown, expired or not yet valid client certificate)" },
  FG_MQTT_PROTOCOL: { status: 400, message: "MQTT protocol violation or malformed packet; connection closed" },
  FG_TLS_RENEGOTIATION: { status: 400, message: "TLS renegotiation refused; connection closed" },
  FG_MQTT_SLOW_CONSUMER: { status: 503, message: "client reads too slowly; messages to it are dropped" },
  FG_MQTT_OVERLOADED: { status: 503, message: "router backlog over its bound; QoS 0 publishes are shed" },
  FG_DATA_DIR_INVALID: { status: 500, message: "not a gateway data directory" },
  FG_INTERNAL: { status: 500, message: "internal error" },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly connack: number | undefined;
  /** Seconds, for 429/503 answers (RFC 9110 §10.2.3 Retry-After). */
  readonly retryAfter: number | undefined;
  /** Methods the path serves, for 405 answers (RFC 9110 §10.2.1 Allow). */
  readonly allow: readonly string[] | undefined;

  constructor(code: ErrorCode, message?: string, opts: { retryAfter?: number; allow?: readonly string[]; cause?: unknown } = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(message ?? spec.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "GatewayError";
    this.code = code;
    this.status = spec.status;
    this.connack = spec.connack;
    this.retryAfter = opts.retryAfter;
    this.allow = opts.allow;
  }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}

/** Anything that is not a GatewayError becomes FG_INTERNAL; its detail is logged, not sent. */
export function toGatewayError(e: unknown): GatewayError {
  return isGatewayError(e) ? e : new GatewayError("FG_INTERNAL", undefined, { cause: e });
}
