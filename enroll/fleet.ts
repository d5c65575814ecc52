import type { Repositories, Store } from "../db/store.js";
import type { CertificateRow, DeviceRow, RevocationReason } from "../db/types.js";
import { REVOCATION_REASONS } from "../db/types.js";
import { GatewayError } from "../errors.js";
import type { GatewayEvents } from "../runtime/deps.js";
import { isValidName } from "../pki/roles.js";

/** README "CLI" and "Admin API": the JSON shape of a device, shared by `devices list --json` and the admin API. */
export interface DeviceView {
  id: string;
  status: DeviceRow["status"];
  online: boolean;
  lastSeen: string | null;
  certificates: { serial: string; notBefore: string; notAfter: string; status: CertView }[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export type CertView = "valid" | "superseded" | "revoked" | "expired";

/**
 * A certificate replaced by a newer one (re-provisioning, or the per-device cap of issuance-limits.ts)
 * shows as `superseded`; any other revocation as `revoked`.
 */
export function certStatus(c: CertificateRow, now: number): CertView {
  if (c.status === "revoked") return c.revocationReason === "superseded" ? "superseded" : "revoked";
  return c.notAfter <= now ? "expired" : "valid";
}

export async function deviceView(store: Repositories, row: DeviceRow, now: number): Promise<DeviceView> {
  return {
    id: row.id,
    status: row.status,
    online: row.online,
    lastSeen: row.lastSeen === null ? null : iso(row.lastSeen),
    certificates: (await store.certificates.forDevice(row.id)).map((c) => ({
      serial: c.serial, notBefore: iso(c.notBefore), notAfter: iso(c.notAfter), status: certStatus(c, now),
    })),
  };
}

/** The expiry watch, as a pure rule: the newest valid certificate expires within the window. */
export function expiresWithin(view: DeviceView, now: number, windowMs: number): boolean {
  const newest = view.certificates.filter((c) => c.status === "valid").map((c) => Date.parse(c.notAfter)).sort((a, b) => b - a)[0];
  return newest !== undefined && newest <= now + windowMs;
}

export async function listDevices(store: Repositories, now: number, expiringWithinMs?: number): Promise<DeviceView[]> {
  const all: DeviceView[] = [];
  for (const r of await store.devices.list()) all.push(await deviceView(store, r, now));
  return expiringWithinMs === undefined ? all : all.filter((v) => expiresWithin(v, now, expiringWithinMs));
}

export async function getDevice(store: Repositories, id: string, now: number): Promise<DeviceView> {
  if (!isValidName(id)) throw new GatewayError("FG_DEVICE_ID_INVALID");
  const row = await store.devices.get(id);
  if (!row) throw new GatewayError("FG_NOT_FOUND", `device ${id} not found`);
  return deviceView(store, row, now);
}

export function isRevocationReason(r: unknown): r is RevocationReason {
  return typeof r === "string" && (REVOCATION_REASONS as readonly string[]).includes(r);
}

export interface RevokeResult {
  readonly deviceId: string;
  readonly alreadyRevoked: boolean;
  readonly serials: string[];
  /** Outstanding bootstrap tokens cancelled by this revocation. */
  readonly tokensCancelled: number;
  /** false: the device never enrolled; only its tokens were cancelled. */
  readonly enrolled: boolean;
}

/**
 * Revokes a device: the device and all its unexpired certificates become
 * revoked, its outstanding tokens are cancelled, the revocation log gets one
 * entry per serial (every gateway process follows it to kick live sessions),
 * and the audit trail records who did it. A device that never enrolled but has
 * tokens gets its tokens cancelled (nothing else to revoke); one that is wholly
 * unknown is FG_NOT_FOUND. One transaction, so a crash leaves either all of it
 * or none. Idempotent.
 */
export async function revokeDevice(
  d: { store: Store; clock: () => number; events?: GatewayEvents },
  deviceId: string, reason: RevocationReason, actor: string,
): Promise<RevokeResult> {
  if (!isValidName(deviceId)) throw new GatewayError("FG_DEVICE_ID_INVALID");
  if (!isRevocationReason(reason)) throw new GatewayError("FG_BODY_INVALID", `reason must be one of ${REVOCATION_REASONS.join(", ")}`);
  const now = d.clock();
  const result = await d.store.transaction(async (tx): Promise<RevokeResult> => {
    const dev = await tx.devices.get(deviceId);
    if (!dev) {
      if (!(await tx.tokens.everIssued(deviceId))) throw new GatewayError("FG_NOT_FOUND", `device ${deviceId} not found`);
      const tokensCancelled = await tx.tokens.cancelForDevice(deviceId, now);
      await tx.audit.append({ at: now, type: "token.revoked", actor, deviceId, detail: { cancelled: tokensCancelled, via: "devices revoke", reason } });
      return { deviceId, alreadyRevoked: false, serials: [], tokensCancelled, enrolled: false };
    }
    const changed = await tx.devices.revoke(deviceId, reason, now);
    const serials = await tx.certificates.revokeForDevice(deviceId, reason, now);
    const tokensCancelled = await tx.tokens.cancelForDevice(deviceId, now);
    // Always log, even when nothing changed: a live session on a revoked device must still be closed.
    await tx.revocations.append(deviceId, serials[0] ?? "*", now);
    for (const s of serials.slice(1)) await tx.revocations.append(deviceId, s, now);
    await tx.audit.append({ at: now, type: "device.revoked", actor, deviceId, detail: { reason, serials, alreadyRevoked: !changed, tokensCancelled } });
    return { deviceId, alreadyRevoked: !changed, serials, tokensCancelled, enrolled: true };
  });
  if (result.enrolled) d.events?.emit("revoked", { deviceId, serials: result.serials, reason });
  return result;
}
