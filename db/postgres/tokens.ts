import type { TokenRepository } from "../store.js";
import type { OutstandingToken, TokenRow } from "../types.js";
import { changed, rows, type Queryable } from "./query.js";

interface Raw { hash: string; device_id: string; created_at: number; expires_at: number; used_at: number | null; issued_serial: string | null; reprovision: boolean }

/** Enrollment tokens on PostgreSQL (only SHA-256 hashes, see enroll/tokens.ts). */
export class PgTokens implements TokenRepository {
  constructor(private readonly q: Queryable) {}

  async insert(hash: string, deviceId: string, createdAt: number, expiresAt: number, reprovision = false) {
    await this.q.query("INSERT INTO tokens(hash, device_id, created_at, expires_at, reprovision) VALUES ($1, $2, $3, $4, $5)", [hash, deviceId, createdAt, expiresAt, reprovision]);
  }

  async get(hash: string): Promise<TokenRow | undefined> {
    const [r] = await rows<Raw>(this.q, "SELECT * FROM tokens WHERE hash = $1", [hash]);
    return r && { hash: r.hash, deviceId: r.device_id, createdAt: r.created_at, expiresAt: r.expires_at, usedAt: r.used_at, issuedSerial: r.issued_serial, reprovision: r.reprovision };
  }

  /**
   * One UPDATE guarded by used_at IS NULL. A concurrent consumer on any node
   * blocks on the row lock until the first commits, then re-checks the guard
   * (READ COMMITTED re-evaluates WHERE on the new row version) and changes nothing:
   * exactly one caller gets true.
   */
  async consume(hash: string, deviceId: string, now: number, issuedSerial: string | null = null) {
    return (await changed(this.q,
      "UPDATE tokens SET used_at = $1, issued_serial = $2 WHERE hash = $3 AND device_id = $4 AND used_at IS NULL AND expires_at > $1",
      [now, issuedSerial, hash, deviceId])) === 1;
  }

  async outstanding(now: number): Promise<OutstandingToken[]> {
    const rs = await rows<Raw>(this.q, "SELECT * FROM tokens WHERE used_at IS NULL AND expires_at > $1 ORDER BY device_id, created_at", [now]);
    return rs.map((r) => ({ deviceId: r.device_id, createdAt: r.created_at, expiresAt: r.expires_at, reprovision: r.reprovision }));
  }

  /** A cancelled token expires now: the row stays (the device id keeps its owner), it can never be used. */
  async cancelForDevice(deviceId: string, now: number) {
    return changed(this.q, "UPDATE tokens SET expires_at = $1 WHERE device_id = $2 AND used_at IS NULL AND expires_at > $1", [now, deviceId]);
  }

  async everIssued(deviceId: string) {
    return (await rows(this.q, "SELECT 1 FROM tokens WHERE device_id = $1 LIMIT 1", [deviceId])).length > 0;
  }

  /** A byte range on the "C"-collated keys: ids are ASCII below 0x7f, so [P, P + "\x7f") holds exactly the ids starting with P. */
  async idsWithPrefix(prefix: string) {
    const end = `${prefix}\x7f`;
    const rs = await rows<{ id: string }>(this.q,
      "SELECT id FROM devices WHERE id >= $1 AND id < $2 UNION SELECT device_id AS id FROM tokens WHERE device_id >= $1 AND device_id < $2 ORDER BY id",
      [prefix, end]);
    return rs.map((r) => r.id).filter((id) => id.startsWith(prefix));
  }
}
