import type { Store } from "../db/store.js";
import type { CertificateRow, DeviceRow, RevocationReason } from "../db/types.js";
import { REVOCATION_REASONS } from "../db/types.js";
import { GatewayError } from "../errors.js";
import type { GatewayEvents } from "../deps.js";
import { isValidName } from "./roles.js";

/** CONTRACT §6: the JSON shape of a device, shared by `devices list --json` and the admin API. */
export interface DeviceView {
  id: string;
  status: DeviceRow["status"];
  online: boolean;
  lastSeen: string | null;
  certificates: { serial: string; notBefore: string; notAfter: string; status: CertView }[];
}

const iso = (ms: number) => new Date(ms).toISOString();

type CertView = "valid" | "superseded" | "revoked" | "expired";

/** A certificate revoked because a newer one replaced it (the per-device cap, issuance-limits.ts) is shown as superseded. */
function certStatus(c: CertificateRow, now: number): CertView {
  if (c.status === "revoked") return c.revocationReason === "superseded" ? "superseded" : "revoked";
  return c.notAfter <= now ? "expired" : "valid";
}

export function deviceView(store: Store, row: DeviceRow, now: number): DeviceView {
  return {
    id: row.id,
    status: row.status,
    online: row.online,
    lastSeen: row.lastSeen === null ? null : iso(row.lastSeen),
    certificates: store.certificates.forDevice(row.id).map((c) => ({
      serial: c.serial, notBefore: iso(c.notBefore), notAfter: iso(c.notAfter), status: certStatus(c, now),
    })),
  };
}

/** The expiry watch, as a pure rule: the newest valid certificate expires within the window. */
export function expiresWithin(view: DeviceView, now: number, windowMs: number): boolean {
  const newest = view.certificates.filter((c) => c.status === "valid").map((c) => Date.parse(c.notAfter)).sort((a, b) => b - a)[0];
  return newest !== undefined && newest <= now + windowMs;
}

export function listDevices(store: Store, now: number, expiringWithinMs?: number): DeviceView[] {
  const all = store.devices.list().map((r) => deviceView(store, r, now));
  return expiringWithinMs === undefined ? all : all.filter((v) => expiresWithin(v, now, expiringWithinMs));
}

export function getDevice(store: Store, id: string, now: number): DeviceView {
  if (!isValidName(id)) throw new GatewayError("FG_DEVICE_ID_INVALID");
  const row = store.devices.get(id);
  if (!row) throw new GatewayError("FG_NOT_FOUND", `device ${id} not found`);
  return deviceView(store, row, now);
}

export function isRevocationReason(r: unknown): r is RevocationReason {
  return typeof r === "string" && (REVOCATION_REASONS as readonly string[]).includes(r);
}

export interface RevokeResult { readonly deviceId: string; readonly alreadyRevoked: boolean; readonly serials: string[] }

/**
 * Revokes a device: the device and all its unexpired certificates become
 * revoked, the revocation log gets one entry per serial (every gateway process
 * follows it to kick live sessions), and the audit trail records who did it.
 * One transaction, so a crash leaves either all of it or none. Idempotent.
 */
export function revokeDevice(
  d: { store: Store; clock: () => number; events?: GatewayEvents },
  deviceId: string, reason: RevocationReason, actor: string,
): RevokeResult {
  if (!isValidName(deviceId)) throw new GatewayError("FG_DEVICE_ID_INVALID");
  if (!isRevocationReason(reason)) throw new GatewayError("FG_BODY_INVALID", `reason must be one of ${REVOCATION_REASONS.join(", ")}`);
  const now = d.clock();
  const result = d.store.transaction((): RevokeResult => {
    const dev = d.store.devices.get(deviceId);
    if (!dev) throw new GatewayError("FG_NOT_FOUND", `device ${deviceId} not found`);
    const changed = d.store.devices.revoke(deviceId, reason, now);
    const serials = d.store.certificates.revokeForDevice(deviceId, reason, now);
    // Always log, even when nothing changed: a live session on a revoked device must still be closed.
    d.store.revocations.append(deviceId, serials[0] ?? "*", now);
    for (const s of serials.slice(1)) d.store.revocations.append(deviceId, s, now);
    d.store.audit.append({ at: now, type: "device.revoked", actor, deviceId, detail: { reason, serials, alreadyRevoked: !changed } });
    return { deviceId, alreadyRevoked: !changed, serials };
  });
  d.events?.emit("revoked", { deviceId, serials: result.serials, reason });
  return result;
}
