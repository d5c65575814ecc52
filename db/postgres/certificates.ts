import type { CertificateRepository } from "../store.js";
import { spkiSha256OfCertPem } from "../spki-hash.js";
import { pemFingerprint } from "../fingerprint.js";
import type { CertificateRow, CertStanding, CertStatus, DeviceStatus, NewCertificate, RevocationReason, Role } from "../types.js";
import { changed, rows, type Queryable } from "./query.js";

interface Raw {
  serial: string; role: string; name: string; device_id: string | null; not_before: number; not_after: number;
  status: string; revocation_reason: string | null; revoked_at: number | null; issued_at: number; pem: string;
}

const toRow = (r: Raw): CertificateRow => ({
  serial: r.serial, role: r.role as Role, name: r.name, deviceId: r.device_id, notBefore: r.not_before, notAfter: r.not_after,
  status: r.status as CertStatus, revocationReason: r.revocation_reason as RevocationReason | null, revokedAt: r.revoked_at,
  issuedAt: r.issued_at, pem: r.pem,
});

const COLS = "serial, role, name, device_id, not_before, not_after, status, revocation_reason, revoked_at, issued_at, pem";
const serials = (rs: { serial: string }[]) => rs.map((r) => r.serial);

/** Certificates on PostgreSQL: the same statements as db/sqlite/certificates.ts. */
export class PgCertificates implements CertificateRepository {
  constructor(private readonly q: Queryable) {}

  async insert(c: NewCertificate) {
    const spki = c.spkiSha256 === undefined ? spkiSha256OfCertPem(c.pem) : c.spkiSha256;
    await this.q.query(
      "INSERT INTO certificates(serial, role, name, device_id, not_before, not_after, status, issued_at, pem, spki_sha256) VALUES ($1, $2, $3, $4, $5, $6, 'valid', $7, $8, $9)",
      [c.serial, c.role, c.name, c.deviceId, c.notBefore, c.notAfter, c.issuedAt, c.pem, spki],
    );
  }

  async keyCertifiedElsewhere(spkiSha256: string, role: Role, name: string) {
    return (await rows(this.q, "SELECT 1 FROM certificates WHERE spki_sha256 = $1 AND (role <> $2 OR name <> $3) LIMIT 1", [spkiSha256, role, name])).length > 0;
  }

  async issuedSince(deviceId: string, since: number) {
    return (await rows<{ issued_at: number }>(this.q, "SELECT issued_at FROM certificates WHERE device_id = $1 AND issued_at > $2 ORDER BY issued_at", [deviceId, since])).map((r) => r.issued_at);
  }

  async validOldestFirst(deviceId: string, now: number) {
    return serials(await rows(this.q, "SELECT serial FROM certificates WHERE device_id = $1 AND status = 'valid' AND not_after > $2 ORDER BY not_after, issued_at, serial", [deviceId, now]));
  }

  async supersede(serial: string, now: number) {
    return (await changed(this.q, "UPDATE certificates SET revocation_reason = 'superseded', revoked_at = $1, status = 'revoked' WHERE serial = $2 AND status = 'valid'", [now, serial])) === 1;
  }

  async get(serial: string) {
    const [r] = await rows<Raw>(this.q, `SELECT ${COLS} FROM certificates WHERE serial = $1`, [serial]);
    return r && toRow(r);
  }

  async forDevice(deviceId: string) {
    return (await rows<Raw>(this.q, `SELECT ${COLS} FROM certificates WHERE device_id = $1 ORDER BY not_after DESC, issued_at DESC`, [deviceId])).map(toRow);
  }

  async revokeForDevice(deviceId: string, reason: RevocationReason, now: number) {
    return serials(await rows(this.q,
      "UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2 WHERE device_id = $3 AND status = 'valid' AND not_after > $1 RETURNING serial",
      [now, reason, deviceId]));
  }

  async credentials() {
    return (await rows<Raw>(this.q, `SELECT ${COLS} FROM certificates WHERE device_id IS NULL ORDER BY name, issued_at`)).map(toRow);
  }

  async credentialRole(name: string) {
    const [r] = await rows<{ role: string }>(this.q, "SELECT role FROM certificates WHERE device_id IS NULL AND name = $1 LIMIT 1", [name]);
    return r?.role as Role | undefined;
  }

  async credentialNames() {
    return (await rows<{ name: string; role: string }>(this.q, "SELECT DISTINCT name, role FROM certificates WHERE device_id IS NULL")).map((r) => ({ name: r.name, role: r.role as Role }));
  }

  async revokeCredential(name: string, reason: RevocationReason, now: number) {
    return serials(await rows(this.q,
      "UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2 WHERE device_id IS NULL AND name = $3 AND status = 'valid' RETURNING serial",
      [now, reason, name]));
  }

  async hasValid(deviceId: string, now: number) {
    return (await rows(this.q, "SELECT 1 FROM certificates WHERE device_id = $1 AND status = 'valid' AND not_after > $2 LIMIT 1", [deviceId, now])).length > 0;
  }

  /** What the broker checks on every CONNECT, in one indexed lookup (see db/sqlite/certificates.ts). */
  async standing(serial: string): Promise<CertStanding | undefined> {
    const [r] = await rows<{ role: string; name: string; device_id: string | null; status: string; device_status: string | null; pem: string }>(this.q,
      "SELECT c.role, c.name, c.device_id, c.status, d.status AS device_status, c.pem FROM certificates c LEFT JOIN devices d ON d.id = c.device_id WHERE c.serial = $1",
      [serial]);
    return r && {
      role: r.role as Role, name: r.name, deviceId: r.device_id, status: r.status as CertStatus, deviceStatus: r.device_status as DeviceStatus | null,
      fingerprint: pemFingerprint(r.pem),
    };
  }

  async revokedUnexpired(now: number) {
    return (await rows<Raw>(this.q, `SELECT ${COLS} FROM certificates WHERE status = 'revoked' AND not_after > $1 ORDER BY revoked_at, serial`, [now])).map(toRow);
  }

  async countDevicesExpiring(now: number, windowMs: number) {
    const [r] = await rows<{ n: number }>(this.q,
      "SELECT count(*) AS n FROM (SELECT max(not_after) AS na FROM certificates WHERE device_id IS NOT NULL AND status = 'valid' AND not_after > $1 GROUP BY device_id) x WHERE na <= $2",
      [now, now + windowMs]);
    return r?.n ?? 0;
  }
}
