/** Row shapes of the registry. Times are milliseconds since the epoch. */
import type { Role } from "../pki/roles.js";
import type { RevocationReason } from "../pki/crl.js";

// One definition each, in pki/ (the ground floor); the registry stores the same names.
export type { Role, RevocationReason };
export type DeviceStatus = "active" | "revoked";
export type CertStatus = "valid" | "revoked";
export const REVOCATION_REASONS = ["unspecified", "keyCompromise", "superseded", "cessationOfOperation"] as const satisfies readonly RevocationReason[];

export interface DeviceRow {
  readonly id: string;
  readonly status: DeviceStatus;
  readonly createdAt: number;
  readonly lastSeen: number | null;
  readonly online: boolean;
  readonly revokedAt: number | null;
  readonly revocationReason: RevocationReason | null;
}

export interface CertificateRow {
  readonly serial: string;
  readonly role: Role;
  readonly name: string;
  readonly deviceId: string | null;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly status: CertStatus;
  readonly revocationReason: RevocationReason | null;
  readonly revokedAt: number | null;
  readonly issuedAt: number;
  readonly pem: string;
}

/** A certificate's registry standing, as the broker checks it on CONNECT. */
export interface CertStanding {
  readonly role: Role;
  readonly name: string;
  readonly deviceId: string | null;
  readonly status: CertStatus;
  /** null when the certificate belongs to no device (service, admin) or the device row is missing. */
  readonly deviceStatus: DeviceStatus | null;
  /** SHA-256 (lowercase hex) of the registered certificate's DER. */
  readonly fingerprint: string;
}

export interface NewCertificate {
  readonly serial: string;
  readonly role: Role;
  readonly name: string;
  readonly deviceId: string | null;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuedAt: number;
  readonly pem: string;
  /** SHA-256 of the certificate's SubjectPublicKeyInfo, hex; derived from `pem` when omitted. */
  readonly spkiSha256?: string | null;
}

export interface AuditEvent {
  readonly id: number;
  readonly at: number;
  readonly type: string;
  readonly actor: string | null;
  readonly deviceId: string | null;
  readonly serial: string | null;
  readonly code: string | null;
  readonly detail: Record<string, unknown> | null;
}

export type NewAuditEvent = Omit<AuditEvent, "id" | "at" | "actor" | "deviceId" | "serial" | "code" | "detail"> &
  Partial<Pick<AuditEvent, "actor" | "deviceId" | "serial" | "code" | "detail">> & { at?: number };

export interface RevocationLogEntry {
  readonly seq: number;
  readonly deviceId: string | null;
  readonly serial: string;
  readonly at: number;
}

export interface TokenRow { hash: string; deviceId: string; createdAt: number; expiresAt: number; usedAt: number | null; issuedSerial: string | null; reprovision: boolean }
/** An unused, unexpired token, as listed to operators: never the hash or the secret. */
export interface OutstandingToken { deviceId: string; createdAt: number; expiresAt: number; reprovision: boolean }

/** Audit event types that record presence, not a decision: what `security` leaves out. */
export const PRESENCE_TYPES = ["mqtt.connected", "mqtt.disconnected"] as const;

export interface AuditQuery {
  readonly limit: number;
  readonly deviceId?: string;
  readonly type?: string;
  readonly security?: boolean;
}
