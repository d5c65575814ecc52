import type { Database, Statement } from "better-sqlite3";
import type { OutstandingToken, TokenRow } from "../types.js";

interface Raw { hash: string; device_id: string; created_at: number; expires_at: number; used_at: number | null; issued_serial: string | null; reprovision: number }

/** Enrollment tokens. Only SHA-256 hashes are stored (see enroll/tokens.ts). */
export class Tokens {
  private readonly sInsert: Statement<[string, string, number, number, number]>;
  private readonly sGet: Statement<[string], Raw>;
  private readonly sConsume: Statement<[number, string | null, string, string, number]>;
  private readonly sOutstanding: Statement<[number], Raw>;
  private readonly sCancel: Statement<[number, string, number]>;
  private readonly sAny: Statement<[string], { n: number }>;
  private readonly sIdsWithPrefix: Statement<[string, string, string, string], { id: string }>;

  constructor(db: Database) {
    this.sInsert = db.prepare("INSERT INTO tokens(hash, device_id, created_at, expires_at, reprovision) VALUES (?, ?, ?, ?, ?)");
    this.sGet = db.prepare("SELECT * FROM tokens WHERE hash = ?");
    // One UPDATE guarded by used_at IS NULL: SQLite serializes writers, so of
    // any number of concurrent consumers (threads or processes) exactly one
    // sees changes === 1.
    this.sConsume = db.prepare(
      "UPDATE tokens SET used_at = ?, issued_serial = ? WHERE hash = ? AND device_id = ? AND used_at IS NULL AND expires_at > ?",
    );
    this.sOutstanding = db.prepare("SELECT * FROM tokens WHERE used_at IS NULL AND expires_at > ? ORDER BY device_id, created_at");
    // A cancelled token expires now: the row stays (the device id keeps its owner), it can never be used.
    this.sCancel = db.prepare("UPDATE tokens SET expires_at = ? WHERE device_id = ? AND used_at IS NULL AND expires_at > ?");
    this.sAny = db.prepare("SELECT count(*) AS n FROM tokens WHERE device_id = ?");
    // A range on the primary key and tokens_device: ids are ASCII below 0x7f, so [P, P + "\x7f") holds exactly the ids starting with P.
    this.sIdsWithPrefix = db.prepare(
      "SELECT id FROM devices WHERE id >= ? AND id < ? UNION SELECT device_id AS id FROM tokens WHERE device_id >= ? AND device_id < ?",
    );
  }

  insert(hash: string, deviceId: string, createdAt: number, expiresAt: number, reprovision = false): void {
    this.sInsert.run(hash, deviceId, createdAt, expiresAt, reprovision ? 1 : 0);
  }

  get(hash: string): TokenRow | undefined {
    const r = this.sGet.get(hash);
    return r && { hash: r.hash, deviceId: r.device_id, createdAt: r.created_at, expiresAt: r.expires_at, usedAt: r.used_at, issuedSerial: r.issued_serial, reprovision: r.reprovision === 1 };
  }

  /** Atomically marks the token used (by the certificate `issuedSerial`); true only for the one caller that won. */
  consume(hash: string, deviceId: string, now: number, issuedSerial: string | null = null): boolean {
    return this.sConsume.run(now, issuedSerial, hash, deviceId, now).changes === 1;
  }

  /** Unused, unexpired tokens, by device id. */
  outstanding(now: number): OutstandingToken[] {
    return this.sOutstanding.all(now).map((r) => ({ deviceId: r.device_id, createdAt: r.created_at, expiresAt: r.expires_at, reprovision: r.reprovision === 1 }));
  }

  /** Cancels a device's outstanding tokens; returns how many were cancelled. */
  cancelForDevice(deviceId: string, now: number): number {
    return this.sCancel.run(now, deviceId, now).changes;
  }

  /** Whether a token was ever created for this device id (used, expired or cancelled included). */
  everIssued(deviceId: string): boolean {
    return (this.sAny.get(deviceId)?.n ?? 0) > 0;
  }

  /** Device ids starting with `prefix`, from the devices and every token ever created. */
  idsWithPrefix(prefix: string): string[] {
    const end = `${prefix}\x7f`;
    return this.sIdsWithPrefix.all(prefix, end, prefix, end).map((r) => r.id).filter((id) => id.startsWith(prefix));
  }
}
