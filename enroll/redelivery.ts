import crypto from "node:crypto";
import type { Repositories } from "../db/store.js";
import type { CertificateRow } from "../db/types.js";
import { GatewayError } from "../errors.js";
import type { Authorization } from "./enrollment.js";
import { hashToken, sameDeviceId } from "./tokens.js";

/**
 * Idempotent retry of an enrollment (RFC 7030 §4.2 leaves a lost answer to the
 * client): the certificate is committed before the 200 goes out, and a client
 * may still reject that answer (a dropped connection, a TLS or parse error). A
 * retry of the same request then gets the same certificate instead of a
 * refusal (a spent token) or a second certificate (a manufacturer certificate,
 * a renewal). Only a requester that proves possession of the certified key, in
 * a CSR, while holding a credential for that device, is answered this way: it
 * learns nothing it could not have requested anyway.
 *
 * Bounds: a spent token replays only the certificate it enrolled, while the
 * token's own lifetime lasts and at most REPLAY_WINDOW_MS after it was spent;
 * the other methods replay a certificate of the same device and key issued in
 * the last REPLAY_WINDOW_MS. Never a revoked, superseded or expired certificate,
 * never for a revoked device (checked by the caller and here).
 */
export const TOKEN_REPLAY_WINDOW_MS = 24 * 3600_000;
export const REPLAY_WINDOW_MS = 10 * 60_000;

export interface ReplayCandidate {
  readonly deviceId: string;
  /** Certificates that may be answered again, newest first; the CSR's key picks one. */
  readonly certificates: readonly CertificateRow[];
}

const usable = (c: CertificateRow, deviceId: string, now: number) =>
  c.role === "device" && c.deviceId === deviceId && c.status === "valid" && now >= c.notBefore && now < c.notAfter;

/**
 * For a token that is no longer usable: the certificate that token enrolled,
 * if the token is within its retry bounds. The device id is compared in
 * constant time, as for a fresh token.
 */
export async function tokenReplay(store: Repositories, auth: Extract<Authorization, { kind: "token" }>, now: number): Promise<ReplayCandidate | undefined> {
  const row = await store.tokens.get(hashToken(auth.token));
  if (!row || row.usedAt === null || row.issuedSerial === null) return undefined;
  if (!sameDeviceId(row.deviceId, auth.deviceId)) return undefined;
  if (now >= row.expiresAt || now - row.usedAt > TOKEN_REPLAY_WINDOW_MS) return undefined;
  if ((await store.devices.get(row.deviceId))?.status !== "active") return undefined;
  const cert = await store.certificates.get(row.issuedSerial);
  return cert && usable(cert, row.deviceId, now) ? { deviceId: row.deviceId, certificates: [cert] } : undefined;
}

/**
 * For an authorized manufacturer-certificate enrollment or renewal: the device's
 * certificates issued within the window, other than the one presented (a renewal
 * that keeps its key must still get a new certificate).
 */
export async function recentReplay(store: Repositories, deviceId: string, presentedSerial: string | undefined, now: number): Promise<ReplayCandidate | undefined> {
  if ((await store.devices.get(deviceId))?.status !== "active") return undefined;
  const presented = presentedSerial === undefined ? undefined : await store.certificates.get(presentedSerial);
  const certs = (await store.certificates.forDevice(deviceId)).filter((c) =>
    usable(c, deviceId, now) && now - c.issuedAt <= REPLAY_WINDOW_MS && c.serial !== presentedSerial && (presented === undefined || c.issuedAt >= presented.issuedAt));
  return certs.length > 0 ? { deviceId, certificates: certs } : undefined;
}

/** The candidate certificate that certifies exactly this public key, if any. */
export function pickByKey(candidate: ReplayCandidate, publicKey: crypto.KeyObject): CertificateRow | undefined {
  return candidate.certificates.find((c) => {
    try {
      return new crypto.X509Certificate(c.pem).publicKey.equals(publicKey);
    } catch {
      return false;
    }
  });
}

/** Re-checked under the write lock by the caller's transaction: still valid, device still active. */
export async function stillDeliverable(store: Repositories, cert: CertificateRow, now: number): Promise<void> {
  const c = await store.certificates.get(cert.serial);
  if (!c || !cert.deviceId || !usable(c, cert.deviceId, now)) throw new GatewayError("FG_CERT_REVOKED");
  if ((await store.devices.get(cert.deviceId))?.status !== "active") throw new GatewayError("FG_DEVICE_REVOKED");
}
