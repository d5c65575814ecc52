import type { Database, Statement } from "better-sqlite3";
import type { DeviceRow, RevocationReason } from "../types.js";

interface Raw { id: string; status: string; created_at: number; last_seen: number | null; online: number; revoked_at: number | null; revocation_reason: string | null }

const toRow = (r: Raw): DeviceRow => ({
  id: r.id,
  status: r.status as DeviceRow["status"],
  createdAt: r.created_at,
  lastSeen: r.last_seen,
  online: r.online > 0,
  revokedAt: r.revoked_at,
  revocationReason: r.revocation_reason as RevocationReason | null,
});

export class Devices {
  private readonly sGet: Statement<[string], Raw>;
  private readonly sList: Statement<[], Raw>;
  private readonly sInsert: Statement<[string, number]>;
  private readonly sRevoke: Statement<[number, string, string]>;
  private readonly sSeen: Statement<[number, number, string]>;

  constructor(private readonly db: Database) {
    this.sGet = db.prepare("SELECT * FROM devices WHERE id = ?");
    this.sList = db.prepare("SELECT * FROM devices ORDER BY id");
    this.sInsert = db.prepare("INSERT INTO devices(id, status, created_at) VALUES (?, 'active', ?) ON CONFLICT(id) DO NOTHING");
    this.sRevoke = db.prepare("UPDATE devices SET status = 'revoked', revoked_at = ?, revocation_reason = ?, online = 0 WHERE id = ? AND status = 'active'");
    this.sSeen = db.prepare("UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?), online = ? WHERE id = ?");
  }

  get(id: string): DeviceRow | undefined {
    const r = this.sGet.get(id);
    return r && toRow(r);
  }

  list(): DeviceRow[] {
    return this.sList.all().map(toRow);
  }

  /** Creates the device as active if it does not exist; an existing row is left as it is. */
  ensure(id: string, now: number): void {
    this.sInsert.run(id, now);
  }

  /** Returns true when the device went from active to revoked (false: already revoked or unknown). */
  revoke(id: string, reason: RevocationReason, now: number): boolean {
    return this.sRevoke.run(now, reason, id).changes === 1;
  }

  /** Applies a batch of presence updates in one transaction (the broker batches them). */
  recordPresence(batch: ReadonlyArray<{ id: string; at: number; online: boolean }>): void {
    this.db.transaction(() => {
      for (const p of batch) this.sSeen.run(p.at, p.online ? 1 : 0, p.id);
    })();
  }
}
