import type {
  AuditEvent, AuditQuery, CertificateRow, CertStanding, DeviceRow, NewAuditEvent, NewCertificate, OutstandingToken,
  RevocationLogEntry, RevocationReason, Role, TokenRow,
} from "./types.js";

/**
 * The registry interface (README "Registry interface"). Every result is a Promise,
 * so a networked backend can implement it; the SQLite backend (db/sqlite/) resolves
 * at once. Times are milliseconds since the epoch. Types only: callers depend on
 * this file, never on a backend.
 */

export interface DeviceRepository {
  get(id: string): Promise<DeviceRow | undefined>;
  list(): Promise<DeviceRow[]>;
  /** Creates the device as active if it does not exist; an existing row is left as it is. */
  ensure(id: string, now: number): Promise<void>;
  /** True when the device went from active to revoked (false: already revoked or unknown). */
  revoke(id: string, reason: RevocationReason, now: number): Promise<boolean>;
  /** Applies a batch of presence updates atomically (the broker batches them). */
  recordPresence(batch: ReadonlyArray<{ id: string; at: number; online: boolean }>): Promise<void>;
}

export interface CertificateRepository {
  /** Records a certificate; its key fingerprint is taken from the PEM when the caller does not pass it. */
  insert(c: NewCertificate): Promise<void>;
  /** Whether this public key (SPKI SHA-256) was ever certified, in any status, for an identity other than (role, name). */
  keyCertifiedElsewhere(spkiSha256: string, role: Role, name: string): Promise<boolean>;
  /** When the device's certificates issued after `since` were issued, oldest first. */
  issuedSince(deviceId: string, since: number): Promise<number[]>;
  /** Serials of the device's valid, unexpired certificates, the one expiring first first. */
  validOldestFirst(deviceId: string, now: number): Promise<string[]>;
  /** Marks a valid certificate revoked with reason superseded (RFC 5280 §5.3.1); false when it was not valid. */
  supersede(serial: string, now: number): Promise<boolean>;
  get(serial: string): Promise<CertificateRow | undefined>;
  /** Newest first (by notAfter). */
  forDevice(deviceId: string): Promise<CertificateRow[]>;
  /** Revokes every unexpired valid certificate of a device; returns the serials that changed. */
  revokeForDevice(deviceId: string, reason: RevocationReason, now: number): Promise<string[]>;
  /** Every service and admin certificate, by name then issue time. */
  credentials(): Promise<CertificateRow[]>;
  /** The role of the service/admin credential called `name`, if one was ever issued. */
  credentialRole(name: string): Promise<Role | undefined>;
  /** The names (and roles) of every service and admin credential ever issued. */
  credentialNames(): Promise<{ name: string; role: Role }[]>;
  /** Revokes every valid certificate of a service/admin credential; returns the serials that changed. */
  revokeCredential(name: string, reason: RevocationReason, now: number): Promise<string[]>;
  /** Whether the device holds a valid, unexpired certificate. */
  hasValid(deviceId: string, now: number): Promise<boolean>;
  /** A certificate's registered identity, status, device status and fingerprint: what the broker checks on CONNECT. */
  standing(serial: string): Promise<CertStanding | undefined>;
  /** Revoked certificates that have not expired yet: the CRL's entries (RFC 5280 §5). */
  revokedUnexpired(now: number): Promise<CertificateRow[]>;
  /** Devices whose newest valid certificate expires within the window (the expiry-watch gauge). */
  countDevicesExpiring(now: number, windowMs: number): Promise<number>;
}

/** Enrollment tokens: only SHA-256 hashes are stored (enroll/tokens.ts). */
export interface TokenRepository {
  insert(hash: string, deviceId: string, createdAt: number, expiresAt: number, reprovision?: boolean): Promise<void>;
  get(hash: string): Promise<TokenRow | undefined>;
  /**
   * Atomically marks the token used (by the certificate `issuedSerial`). Of any
   * number of concurrent consumers, in any process, exactly one gets true.
   */
  consume(hash: string, deviceId: string, now: number, issuedSerial?: string | null): Promise<boolean>;
  /** Unused, unexpired tokens, by device id. */
  outstanding(now: number): Promise<OutstandingToken[]>;
  /** Cancels a device's outstanding tokens; returns how many were cancelled. */
  cancelForDevice(deviceId: string, now: number): Promise<number>;
  /** Whether a token was ever created for this device id (used, expired or cancelled included). */
  everIssued(deviceId: string): Promise<boolean>;
  /** Device ids starting with `prefix`, from the devices and every token ever created. */
  idsWithPrefix(prefix: string): Promise<string[]>;
}

/** Append-only audit trail, read newest first by event time. */
export interface AuditRepository {
  append(e: NewAuditEvent): Promise<void>;
  newest(limit: number): Promise<AuditEvent[]>;
  forDevice(deviceId: string, limit: number): Promise<AuditEvent[]>;
  /** Newest first, filtered by device, exact type, or `security` (everything but presence events). */
  query(q: AuditQuery): Promise<AuditEvent[]>;
}

/** The revocation log every gateway process follows, and the shared counters. */
export interface RevocationRepository {
  append(deviceId: string | null, serial: string, at: number): Promise<void>;
  /** Entries after `seq`, in order (a bounded batch). */
  since(seq: number): Promise<RevocationLogEntry[]>;
  head(): Promise<number>;
  /** Monotonic CRL number (RFC 5280 §5.2.3), shared by all processes. */
  nextCrlNumber(): Promise<number>;
}

/** The repositories, bound either to the store or to one transaction. */
export interface Repositories {
  readonly devices: DeviceRepository;
  readonly certificates: CertificateRepository;
  readonly tokens: TokenRepository;
  readonly audit: AuditRepository;
  readonly revocations: RevocationRepository;
}

/** The repositories of one open transaction. Valid only until the transaction's promise settles. */
export type StoreTx = Repositories;

export interface Store extends Repositories {
  /**
   * Runs fn in one serializable write transaction: it commits when fn's promise
   * fulfils and rolls back when it rejects. fn must use only `tx` (the store's
   * own repositories wait until the transaction ends) and must not await
   * unrelated I/O: the transaction holds the registry's write lock.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** A cheap round trip to the registry (readiness probe): resolves when it answers, rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
