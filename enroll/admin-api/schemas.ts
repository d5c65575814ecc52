import { NAME_RE } from "../../pki/roles.js";
import { REVOCATION_REASONS } from "../../db/types.js";
import { MAX_TOKEN_TTL_SECONDS } from "../tokens.js";

/** JSON schemas for the admin API; fastify validates before any handler runs. */
export const deviceIdParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: NAME_RE.source } },
} as const;

export const tokenDeviceParams = {
  type: "object",
  required: ["deviceId"],
  properties: { deviceId: { type: "string", pattern: NAME_RE.source } },
} as const;

export const credentialNameParams = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string", pattern: NAME_RE.source } },
} as const;

export const revokeBody = {
  type: ["object", "null"],
  additionalProperties: false,
  properties: { reason: { type: "string", enum: [...REVOCATION_REASONS] } },
} as const;

export const tokenBody = {
  type: "object",
  additionalProperties: false,
  required: ["deviceId"],
  properties: {
    deviceId: { type: "string", pattern: NAME_RE.source },
    ttlSeconds: { type: "integer", minimum: 1, maximum: MAX_TOKEN_TTL_SECONDS },
    reprovision: { type: "boolean" },
  },
} as const;

export const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: { expiringWithin: { type: "string", pattern: "^\\d{1,9}[smhdw]?$" } },
} as const;

export const auditQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: 1000 },
    deviceId: { type: "string", pattern: NAME_RE.source },
    // An exact event type, e.g. device.revoked.
    type: { type: "string", pattern: "^[a-z][a-z0-9_-]{0,31}(\\.[a-z][a-z0-9_-]{0,31}){0,3}$" },
    // Every event but connect/disconnect presence.
    security: { type: "string", enum: ["true", "1", "false", "0"] },
  },
  not: { required: ["type", "security"] },
} as const;
