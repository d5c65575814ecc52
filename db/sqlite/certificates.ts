import type { Database, Statement } from "better-sqlite3";
import { spkiSha256OfCertPem } from "../spki-hash.js";
import { pemFingerprint } from "../fingerprint.js";
import type { CertificateRow, CertStanding, CertStatus, DeviceStatus, NewCertificate, RevocationReason, Role } from "../types.js";

interface Raw {
  serial: string; role: string; name: string; device_id: string | null; not_before: number; not_after: number;
  status: string; revocation_reason: string | null; revoked_at: number | null; issued_at: number; pem: string;
}

interface StandingRaw { role: string; name: string; device_id: string | null; status: string; device_status: string | null; pem: string }

const toRow = (r: Raw): CertificateRow => ({
  serial: r.serial,
  role: r.role as CertificateRow["role"],
  name: r.name,
  deviceId: r.device_id,
  notBefore: r.not_before,
  notAfter: r.not_after,
  status: r.status as CertificateRow["status"],
  revocationReason: r.revocation_reason as RevocationReason | null,
  revokedAt: r.revoked_at,
  issuedAt: r.issued_at,
  pem: r.pem,
});

export class Certificates {
  private readonly sInsert: Statement<[string, string, string, string | null, number, number, number, string, string | null]>;
  private readonly sKeyElsewhere: Statement<[string, string, string], { serial: string }>;
  private readonly sIssuedSince: Statement<[string, number], { issued_at: number }>;
  private readonly sValidOldestFirst: Statement<[string, number], { serial: string }>;
  private readonly sSupersede: Statement<[number, string], { serial: string }>;
  private readonly sGet: Statement<[string], Raw>;
  private readonly sForDevice: Statement<[string], Raw>;
  private readonly sRevokeDevice: Statement<[number, string, string, number], { serial: string }>;
  private readonly sRevoked: Statement<[number], Raw>;
  private readonly sExpiring: Statement<[number, number], { n: number }>;
  private readonly sStanding: Statement<[string], StandingRaw>;
  private readonly sCredentials: Statement<[], Raw>;
  private readonly sCredentialRole: Statement<[string], { role: string }>;
  private readonly sCredentialNames: Statement<[], { name: string; role: string }>;
  private readonly sRevokeCredential: Statement<[number, string, string], { serial: string }>;
  private readonly sHasValid: Statement<[string, number], { n: number }>;

  constructor(db: Database) {
    this.sInsert = db.prepare(
      "INSERT INTO certificates(serial, role, name, device_id, not_before, not_after, status, issued_at, pem, spki_sha256) VALUES (?, ?, ?, ?, ?, ?, 'valid', ?, ?, ?)",
    );
    this.sKeyElsewhere = db.prepare("SELECT serial FROM certificates WHERE spki_sha256 = ? AND (role <> ? OR name <> ?) LIMIT 1");
    this.sIssuedSince = db.prepare("SELECT issued_at FROM certificates WHERE device_id = ? AND issued_at > ? ORDER BY issued_at");
    this.sValidOldestFirst = db.prepare(
      "SELECT serial FROM certificates WHERE device_id = ? AND +status = 'valid' AND not_after > ? ORDER BY not_after, issued_at, serial",
    );
    this.sSupersede = db.prepare(
      "UPDATE certificates SET revocation_reason = 'superseded', revoked_at = ?, status = 'revoked' WHERE serial = ? AND status = 'valid' RETURNING serial",
    );
    this.sGet = db.prepare("SELECT * FROM certificates WHERE serial = ?");
    this.sForDevice = db.prepare("SELECT * FROM certificates WHERE device_id = ? ORDER BY not_after DESC, issued_at DESC");
    // `+status`: without it SQLite picks certificates_revoked (status, not_after) and
    // walks every valid certificate of the fleet inside the write transaction
    // (~2 ms at 10,000 devices, growing with the fleet); the device index finds a handful.
    this.sRevokeDevice = db.prepare(
      "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE device_id = ? AND +status = 'valid' AND not_after > ? RETURNING serial",
    );
    this.sRevoked = db.prepare("SELECT * FROM certificates WHERE status = 'revoked' AND not_after > ? ORDER BY revoked_at, serial");
    this.sStanding = db.prepare(
      "SELECT c.role, c.name, c.device_id, c.status, d.status AS device_status, c.pem FROM certificates c LEFT JOIN devices d ON d.id = c.device_id WHERE c.serial = ?",
    );
    // Credentials (service, admin) are the certificates without a device.
    this.sCredentials = db.prepare("SELECT * FROM certificates WHERE device_id IS NULL ORDER BY name, issued_at");
    this.sCredentialRole = db.prepare("SELECT role FROM certificates WHERE device_id IS NULL AND name = ? LIMIT 1");
    this.sCredentialNames = db.prepare("SELECT DISTINCT name, role FROM certificates WHERE device_id IS NULL");
    this.sRevokeCredential = db.prepare(
      "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE device_id IS NULL AND name = ? AND status = 'valid' RETURNING serial",
    );
    this.sHasValid = db.prepare("SELECT count(*) AS n FROM certificates WHERE device_id = ? AND +status = 'valid' AND not_after > ?");
    this.sExpiring = db.prepare(
      "SELECT count(*) AS n FROM (SELECT max(not_after) AS na FROM certificates WHERE device_id IS NOT NULL AND status = 'valid' AND not_after > ? GROUP BY device_id) WHERE na <= ?",
    );
  }

  /** Records a certificate; its key fingerprint is taken from the PEM when the caller does not pass it. */
  insert(c: NewCertificate): void {
    const spki = c.spkiSha256 === undefined ? spkiSha256OfCertPem(c.pem) : c.spkiSha256;
    this.sInsert.run(c.serial, c.role, c.name, c.deviceId, c.notBefore, c.notAfter, c.issuedAt, c.pem, spki);
  }

  /** Whether this public key (SPKI SHA-256) was ever certified, in any status, for an identity other than (role, name). */
  keyCertifiedElsewhere(spkiSha256: string, role: Role, name: string): boolean {
    return this.sKeyElsewhere.get(spkiSha256, role, name) !== undefined;
  }

  /** When the device's certificates issued after `since` were issued, oldest first. */
  issuedSince(deviceId: string, since: number): number[] {
    return this.sIssuedSince.all(deviceId, since).map((r) => r.issued_at);
  }

  /** Serials of the device's valid, unexpired certificates, the one expiring first first. */
  validOldestFirst(deviceId: string, now: number): string[] {
    return this.sValidOldestFirst.all(deviceId, now).map((r) => r.serial);
  }

  /** Marks a valid certificate revoked with reason superseded (RFC 5280 §5.3.1); false when it was not valid. */
  supersede(serial: string, now: number): boolean {
    return this.sSupersede.get(now, serial) !== undefined;
  }

  get(serial: string): CertificateRow | undefined {
    const r = this.sGet.get(serial);
    return r && toRow(r);
  }

  /** Newest first (by notAfter). */
  forDevice(deviceId: string): CertificateRow[] {
    return this.sForDevice.all(deviceId).map(toRow);
  }

  /** Revokes every unexpired valid certificate of a device; returns the serials that changed. */
  revokeForDevice(deviceId: string, reason: RevocationReason, now: number): string[] {
    return this.sRevokeDevice.all(now, reason, deviceId, now).map((r) => r.serial);
  }

  /** Every service and admin certificate, by name then issue time. */
  credentials(): CertificateRow[] {
    return this.sCredentials.all().map(toRow);
  }

  /** The role of the service/admin credential called `name`, if one was ever issued. */
  credentialRole(name: string): Role | undefined {
    return this.sCredentialRole.get(name)?.role as Role | undefined;
  }

  /** The names (and roles) of every service and admin credential ever issued. */
  credentialNames(): { name: string; role: Role }[] {
    return this.sCredentialNames.all().map((r) => ({ name: r.name, role: r.role as Role }));
  }

  /** Revokes every valid certificate of a service/admin credential; returns the serials that changed. */
  revokeCredential(name: string, reason: RevocationReason, now: number): string[] {
    return this.sRevokeCredential.all(now, reason, name).map((r) => r.serial);
  }

  /** Whether the device holds a valid, unexpired certificate. */
  hasValid(deviceId: string, now: number): boolean {
    return (this.sHasValid.get(deviceId, now)?.n ?? 0) > 0;
  }

  /**
   * What the broker checks on every CONNECT, in one indexed lookup: the
   * certificate's registered identity and status, its device's status, and the
   * fingerprint of the registered certificate (a serial alone can be copied).
   */
  standing(serial: string): CertStanding | undefined {
    const r = this.sStanding.get(serial);
    return r && {
      role: r.role as Role, name: r.name, deviceId: r.device_id, status: r.status as CertStatus, deviceStatus: r.device_status as DeviceStatus | null,
      fingerprint: pemFingerprint(r.pem),
    };
  }

  /** Revoked certificates that have not expired yet: the CRL's entries (RFC 5280 §5). */
  revokedUnexpired(now: number): CertificateRow[] {
    return this.sRevoked.all(now).map(toRow);
  }

  /** Devices whose newest valid certificate expires within the window (the expiry-watch gauge). */
  countDevicesExpiring(now: number, windowMs: number): number {
    return this.sExpiring.get(now, now + windowMs)?.n ?? 0;
  }
}
