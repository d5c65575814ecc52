import crypto from "node:crypto";
import { GatewayError } from "../errors.js";
import type { Store } from "../db/store.js";
import { isValidName } from "./roles.js";

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

/** Creates a one-time bootstrap token for a device id; the token is returned once and never stored. */
export function createToken(d: { store: Store; clock: () => number }, deviceId: string, ttlSeconds: number, actor: string): CreatedToken {
  if (!isValidName(deviceId)) throw new GatewayError("FG_DEVICE_ID_INVALID");
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new GatewayError("FG_BODY_INVALID", `ttl must be 1 to ${MAX_TOKEN_TTL_SECONDS} seconds`);
  }
  const now = d.clock();
  const token = newToken();
  const expiresAt = now + ttlSeconds * 1000;
  d.store.transaction(() => {
    if (d.store.devices.get(deviceId)?.status === "revoked") throw new GatewayError("FG_TOKEN_DEVICE_REVOKED");
    d.store.tokens.insert(hashToken(token), deviceId, now, expiresAt);
    d.store.audit.append({ at: now, type: "token.created", actor, deviceId, detail: { expiresAt: new Date(expiresAt).toISOString() } });
  });
  return { deviceId, token, expiresAt: new Date(expiresAt).toISOString() };
}

/** Whether a token would be accepted for this device now, without consuming it. */
export function tokenUsable(store: Store, deviceId: string, token: string, now: number): boolean {
  const row = store.tokens.get(hashToken(token));
  if (!row) return false;
  // Compare device ids in constant time over equal-length digests.
  const same = crypto.timingSafeEqual(crypto.createHash("sha256").update(row.deviceId).digest(), crypto.createHash("sha256").update(deviceId).digest());
  return same && row.usedAt === null && row.expiresAt > now;
}
