import crypto from "node:crypto";
import type tls from "node:tls";

/**
 * The TLS settings both listeners (HTTPS: EST + admin API; MQTTS) share, in one
 * place so the two ports can never drift apart.
 */

/**
 * Seconds a TLS session (a TLS 1.3 ticket, RFC 8446 §4.6.1; a TLS 1.2 ticket,
 * RFC 5077) stays resumable. OpenSSL announces it as the ticket lifetime and
 * refuses an older ticket with a full handshake. Short on purpose: resumption
 * skips certificate verification, so a revoked certificate's session should not
 * outlive a few minutes (MQTT also checks revocation on every CONNECT, HTTPS on
 * every request that needs a certificate). 300 s still lets a device that lost
 * its link briefly reconnect without the certificate exchange.
 */
export const TLS_SESSION_SECONDS = 300;

/**
 * TLS 1.3 suites (RFC 8446 §B.4): OpenSSL's defaults, named so that
 * TLS_AES_128_CCM_8_SHA256 (8-byte tag) can never be switched on by a default.
 */
export const TLS13_SUITES: readonly string[] = Object.freeze(["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]);

/**
 * TLS 1.2 suites: AEAD only (AES-GCM, ChaCha20-Poly1305; RFC 7905) with an
 * ephemeral ECDH key exchange (forward secrecy), in the server's order of
 * preference (RFC 9325 §4.2). No CBC, no SHA-1 MAC, no CCM-8, no static-RSA or
 * finite-field DHE key exchange. The gateway's server key is ECDSA; the RSA
 * variants serve a server key of that type.
 */
export const TLS12_CIPHERS: readonly string[] = Object.freeze([
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-CHACHA20-POLY1305",
]);

/**
 * Server options shared by both listeners. Renegotiation is refused inside
 * OpenSSL (SSL_OP_NO_RENEGOTIATION): a TLS 1.2 renegotiation could present
 * another client certificate on a connection that was already classified by the
 * first one (RFC 5746 secures the handshake binding, not the identity). TLS 1.3
 * has no renegotiation (RFC 8446 §4.1.2).
 */
export function tlsServerPolicy(sessionSeconds: number = TLS_SESSION_SECONDS): tls.TlsOptions {
  return {
    minVersion: "TLSv1.2",
    ciphers: [...TLS13_SUITES, ...TLS12_CIPHERS].join(":"),
    honorCipherOrder: true,
    secureOptions: crypto.constants.SSL_OP_NO_RENEGOTIATION,
    sessionTimeout: sessionSeconds,
  };
}

/**
 * Belt to SSL_OP_NO_RENEGOTIATION's braces: Node also refuses a renegotiation on
 * this socket (ERR_TLS_RENEGOTIATION_DISABLED, and closes it). Call at
 * 'secureConnection', the first moment a server socket exists with a finished
 * handshake. `onAttempt` runs when a client tried (the caller logs it).
 */
export function refuseRenegotiation(socket: tls.TLSSocket, onAttempt?: (socket: tls.TLSSocket) => void): void {
  socket.disableRenegotiation();
  if (onAttempt) socket.on("error", function (this: tls.TLSSocket, err: NodeJS.ErrnoException) {
    if (err.code === "ERR_TLS_RENEGOTIATION_DISABLED") onAttempt(this);
  });
}
