import crypto from "node:crypto";
import { GatewayError } from "../errors.js";
import type { Repositories, Store } from "../db/store.js";
import { isValidName } from "../pki/roles.js";
import { assertDeviceName } from "./names.js";

/** 32 random bytes, base64url: 256 bits, safe in HTTP Basic and CSV. */
export function newToken(): string {
  return crypto.randomBytes(32).toString("base64url");
}

/** Only this hash is stored. Tokens are high-entropy, so a fast hash is enough (no dictionary to slow down). */
export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token, "utf8").digest("hex");
}

export const MAX_TOKEN_TTL_SECONDS = 365 * 86400;

export interface CreatedToken { readonly deviceId: string; readonly token: string; readonly expiresAt: string }

export interface TokenOptions {
  /**
   * Allow a token for a device that already holds a valid certificate. Its
   * certificates stay valid until it enrolls with this token; then they are
   * revoked as superseded (enrollment.ts).
   */
  readonly reprovision?: boolean;
}

/**
 * Creates a one-time bootstrap token for a device id; the token is returned once
 * and never stored. Refused for a name held by a service or admin credential
 * (one name space, names.ts), for a revoked device, and for a device that holds
 * a valid certificate unless re-provisioning was asked for.
 */
export async function createToken(d: { store: Store; clock: () => number }, deviceId: string, ttlSeconds: number, actor: string, o: TokenOptions = {}): Promise<CreatedToken> {
  return d.store.transaction((tx) => createTokenIn(tx, d.clock, deviceId, ttlSeconds, actor, o));
}

/** createToken inside the caller's transaction (a batch creates all its tokens in one). */
export async function createTokenIn(tx: Repositories, clock: () => number, deviceId: string, ttlSeconds: number, actor: string, o: TokenOptions = {}): Promise<CreatedToken> {
  if (!isValidName(deviceId)) throw new GatewayError("FG_DEVICE_ID_INVALID");
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new GatewayError("FG_BODY_INVALID", `ttl must be 1 to ${MAX_TOKEN_TTL_SECONDS} seconds`);
  }
  const now = clock();
  const token = newToken();
  const expiresAt = now + ttlSeconds * 1000;
  const reprovision = o.reprovision === true;
  await assertDeviceName(tx, deviceId);
  if ((await tx.devices.get(deviceId))?.status === "revoked") throw new GatewayError("FG_TOKEN_DEVICE_REVOKED");
  const enrolled = await tx.certificates.hasValid(deviceId, now);
  if (enrolled && !reprovision) {
    throw new GatewayError("FG_DEVICE_ENROLLED", `device ${deviceId} already has a valid certificate; pass --reprovision (API: "reprovision": true) to replace it`);
  }
  await tx.tokens.insert(hashToken(token), deviceId, now, expiresAt, reprovision);
  await tx.audit.append({
    at: now, type: "token.created", actor, deviceId,
    detail: { expiresAt: new Date(expiresAt).toISOString(), ...(reprovision ? { reprovision: true, enrolled } : {}) },
  });
  return { deviceId, token, expiresAt: new Date(expiresAt).toISOString() };
}

/**
 * The ids `P000001`, `P000002`, ... for a batch of `count`, numbered after the
 * highest id of that form already held by a device or a token (used, expired and
 * cancelled tokens included), so a second batch never re-issues an id in service.
 */
export async function nextBatchIds(store: Repositories, prefix: string, count: number): Promise<string[]> {
  let highest = 0;
  for (const id of await store.tokens.idsWithPrefix(prefix)) {
    const rest = id.slice(prefix.length);
    if (/^\d+$/.test(rest)) highest = Math.max(highest, Number(rest));
  }
  const width = Math.max(6, String(highest + count).length);
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(highest + i + 1).padStart(width, "0")}`);
  const bad = ids.find((id) => !isValidName(id));
  if (bad !== undefined) throw new GatewayError("FG_DEVICE_ID_INVALID", `--prefix ${JSON.stringify(prefix)} makes invalid device ids such as ${JSON.stringify(bad)}`);
  return ids;
}

export interface TokenView { readonly deviceId: string; readonly createdAt: string; readonly expiresAt: string; readonly reprovision: boolean }

/** Outstanding (unused, unexpired) tokens, by device id; never the secret or its hash. */
export async function listTokens(store: Repositories, now: number): Promise<TokenView[]> {
  return (await store.tokens.outstanding(now)).map((t) => ({
    deviceId: t.deviceId, createdAt: new Date(t.createdAt).toISOString(), expiresAt: new Date(t.expiresAt).toISOString(), reprovision: t.reprovision,
  }));
}

/** Cancels a device's outstanding tokens (idempotent); returns how many were cancelled. */
export async function revokeTokens(d: { store: Store; clock: () => number }, deviceId: string, actor: string): Promise<{ deviceId: string; cancelled: number }> {
  if (!isValidName(deviceId)) throw new GatewayError("FG_DEVICE_ID_INVALID");
  const now = d.clock();
  return d.store.transaction(async (tx) => {
    const cancelled = await tx.tokens.cancelForDevice(deviceId, now);
    await tx.audit.append({ at: now, type: "token.revoked", actor, deviceId, detail: { cancelled } });
    return { deviceId, cancelled };
  });
}

/** Whether a token would be accepted for this device now, without consuming it. */
export async function tokenUsable(store: Repositories, deviceId: string, token: string, now: number): Promise<boolean> {
  const row = await store.tokens.get(hashToken(token));
  if (!row) return false;
  return sameDeviceId(row.deviceId, deviceId) && row.usedAt === null && row.expiresAt > now;
}

/** Compares device ids in constant time (over equal-length digests), so a token's owner cannot be probed by timing. */
export function sameDeviceId(a: string, b: string): boolean {
  return crypto.timingSafeEqual(crypto.createHash("sha256").update(a).digest(), crypto.createHash("sha256").update(b).digest());
}
