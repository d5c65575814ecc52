/**
 * What a failed MQTT connection attempt means for the device, as a pure
 * decision over the error the client saw. A refusal is final (firmware stops
 * retrying and waits for an operator); anything else is worth another try
 * after a backoff.
 */
export type ConnectVerdict =
  /** The gateway said no to this identity: CONNACK 2/4/5, or a TLS alert about our certificate. */
  | { readonly kind: "refused"; readonly reason: string }
  /** Our side does not trust the gateway (bad CA, name mismatch): retrying cannot help either. */
  | { readonly kind: "untrusted"; readonly reason: string }
  /** Try again later: network error, timeout, CONNACK 3 (server unavailable / rate limited). */
  | { readonly kind: "transient"; readonly reason: string };

/** TLS alerts a server sends when it rejects the client certificate (RFC 8446 §6.2, RFC 5246 §7.2.2). */
const CLIENT_CERT_ALERTS = [
  "CERTIFICATE_REVOKED", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN", "CERTIFICATE_EXPIRED", "UNKNOWN_CA",
  "ACCESS_DENIED", "CERTIFICATE_REQUIRED", "UNSUPPORTED_CERTIFICATE", "HANDSHAKE_FAILURE",
];

/** Node's codes for a server certificate that does not verify against our trust anchor. */
const SERVER_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "ERR_TLS_CERT_ALTNAME_INVALID", "CERT_SIGNATURE_FAILURE",
]);

/** MQTT 3.1.1 §3.2.2.3 CONNACK return codes that reject the identity itself. */
const REFUSING_CONNACK = new Set([2, 4, 5]);

interface ErrorLike {
  readonly code?: unknown;
  readonly message?: unknown;
}

/**
 * `err` is the last 'error' the client emitted before the connection closed,
 * or undefined when the socket just closed without CONNACK and without error.
 */
export function classifyConnectFailure(err: ErrorLike | undefined): ConnectVerdict {
  if (err === undefined) return { kind: "transient", reason: "closed" };
  const code = err.code;
  if (typeof code === "number") {
    if (REFUSING_CONNACK.has(code)) return { kind: "refused", reason: `connack${code}` };
    return { kind: "transient", reason: `connack${code}` };
  }
  if (typeof code === "string") {
    if (SERVER_UNTRUSTED.has(code)) return { kind: "untrusted", reason: `tls:${code}` };
    if (code.startsWith("ERR_SSL_") && CLIENT_CERT_ALERTS.some((a) => code.endsWith(`_ALERT_${a}`))) {
      return { kind: "refused", reason: `tls:${code.replace(/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/, "").toLowerCase()}` };
    }
    return { kind: "transient", reason: code.startsWith("ERR_SSL_") ? "tls" : code.toLowerCase() };
  }
  const msg = typeof err.message === "string" ? err.message : "";
  if (/connack timeout/i.test(msg)) return { kind: "transient", reason: "timeout" };
  if (/keepalive timeout/i.test(msg)) return { kind: "transient", reason: "keepalive" };
  if (/TLS not authorized/i.test(msg)) return { kind: "untrusted", reason: "tls:server-unauthorized" };
  return { kind: "transient", reason: "error" };
}

/**
 * After a device was kicked, a gateway that refuses it may close the socket
 * without an alert or a CONNACK (e.g. the TLS 1.3 client sees the close before
 * the alert). Several such silent refusals in a row, with no other error, are
 * read as a refusal too: a healthy gateway answers CONNACK 0 or 3.
 */
export const SILENT_REFUSALS_AS_REFUSED = 3;

export function isSilentRefusal(v: ConnectVerdict): boolean {
  return v.kind === "transient" && (v.reason === "closed" || v.reason === "econnreset" || v.reason === "tls");
}

export type CloseDecision =
  | { readonly kind: "stop"; readonly state: "revoked" | "failed"; readonly reason: string }
  | { readonly kind: "retry"; readonly reason: string };

export interface CloseFacts {
  /** This connection had reached CONNACK 0 (so it was dropped, not refused). */
  readonly wasOnline: boolean;
  /** The device had been online earlier in this run: a refusal now means it was revoked. */
  readonly everOnline: boolean;
  /** The last error the client emitted on this connection. */
  readonly error: ErrorLike | undefined;
  /** Closes without CONNACK in a row so far. */
  readonly silentRefusals: number;
}

/**
 * What a device does when its connection closes (outside a renewal handover
 * and the end of the run): retry after a backoff, or stop for good. Returns the
 * new count of silent refusals alongside.
 */
export function afterClose(f: CloseFacts): { readonly decision: CloseDecision; readonly silentRefusals: number } {
  if (f.wasOnline) return { decision: { kind: "retry", reason: "dropped" }, silentRefusals: 0 };
  const v = classifyConnectFailure(f.error);
  if (v.kind === "refused") {
    const decision = f.everOnline ? { kind: "stop" as const, state: "revoked" as const, reason: "revoked" } : { kind: "stop" as const, state: "failed" as const, reason: `refused:${v.reason}` };
    return { decision, silentRefusals: 0 };
  }
  if (v.kind === "untrusted") return { decision: { kind: "stop", state: "failed", reason: `connect:${v.reason}` }, silentRefusals: 0 };
  if (f.everOnline && isSilentRefusal(v)) {
    const n = f.silentRefusals + 1;
    if (n >= SILENT_REFUSALS_AS_REFUSED) return { decision: { kind: "stop", state: "revoked", reason: "revoked" }, silentRefusals: n };
    return { decision: { kind: "retry", reason: `connect:${v.reason}` }, silentRefusals: n };
  }
  // Any other answer (CONNACK 3, connection refused) shows a gateway that is there and not refusing us.
  return { decision: { kind: "retry", reason: `connect:${v.reason}` }, silentRefusals: 0 };
}

export type EstVerdict =
  | { readonly retry: true; readonly reason: string; readonly retryAfter?: number }
  | { readonly retry: false; readonly reason: string };

/** HTTP statuses worth retrying: the server is busy or briefly broken (RFC 7030 §4.2.3, RFC 9110 §15.6). */
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

interface EstErrorLike {
  readonly status?: unknown;
  readonly retryAfter?: unknown;
  readonly code?: unknown;
  readonly name?: unknown;
}

/**
 * What an EST failure means for the device: 4xx refusals (bad token, revoked,
 * malformed) are final, busy answers and network errors are retried. Duck-typed
 * over EstError ({status, retryAfter}) and node's errno errors ({code}).
 */
export function classifyEstFailure(err: unknown): EstVerdict {
  const e = (typeof err === "object" && err !== null ? err : {}) as EstErrorLike;
  if (typeof e.status === "number" && e.status > 0) {
    const reason = String(e.status);
    if (RETRY_STATUS.has(e.status)) {
      return typeof e.retryAfter === "number" ? { retry: true, reason, retryAfter: e.retryAfter } : { retry: true, reason };
    }
    return { retry: false, reason };
  }
  if (typeof e.code === "string") {
    const code = e.code;
    if (/^(UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|CERT_|ERR_TLS_CERT)/.test(code)) return { retry: false, reason: `tls:${code}` };
    return { retry: true, reason: code.toLowerCase() };
  }
  if (e.name === "TimeoutError" || e.name === "AbortError") return { retry: true, reason: "timeout" };
  return { retry: true, reason: "error" };
}
