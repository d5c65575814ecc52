import type { Database, Statement } from "better-sqlite3";

export interface TokenRow { hash: string; deviceId: string; createdAt: number; expiresAt: number; usedAt: number | null; issuedSerial: string | null }
interface Raw { hash: string; device_id: string; created_at: number; expires_at: number; used_at: number | null; issued_serial: string | null }

/** Enrollment tokens. Only SHA-256 hashes are stored (see enroll/tokens.ts). */
export class Tokens {
  private readonly sInsert: Statement<[string, string, number, number]>;
  private readonly sGet: Statement<[string], Raw>;
  private readonly sConsume: Statement<[number, string | null, string, string, number]>;

  constructor(db: Database) {
    this.sInsert = db.prepare("INSERT INTO tokens(hash, device_id, created_at, expires_at) VALUES (?, ?, ?, ?)");
    this.sGet = db.prepare("SELECT * FROM tokens WHERE hash = ?");
    // One UPDATE guarded by used_at IS NULL: SQLite serializes writers, so of
    // any number of concurrent consumers (threads or processes) exactly one
    // sees changes === 1.
    this.sConsume = db.prepare(
      "UPDATE tokens SET used_at = ?, issued_serial = ? WHERE hash = ? AND device_id = ? AND used_at IS NULL AND expires_at > ?",
    );
  }

  insert(hash: string, deviceId: string, createdAt: number, expiresAt: number): void {
    this.sInsert.run(hash, deviceId, createdAt, expiresAt);
  }

  get(hash: string): TokenRow | undefined {
    const r = this.sGet.get(hash);
    return r && { hash: r.hash, deviceId: r.device_id, createdAt: r.created_at, expiresAt: r.expires_at, usedAt: r.used_at, issuedSerial: r.issued_serial };
  }

  /** Atomically marks the token used (by the certificate `issuedSerial`); true only for the one caller that won. */
  consume(hash: string, deviceId: string, now: number, issuedSerial: string | null = null): boolean {
    return this.sConsume.run(now, issuedSerial, hash, deviceId, now).changes === 1;
  }
}
