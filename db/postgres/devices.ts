import type { DeviceRepository } from "../store.js";
import type { DeviceRow, RevocationReason } from "../types.js";
import { changed, rows, type Queryable } from "./query.js";

interface Raw { id: string; status: string; created_at: number; last_seen: number | null; online: boolean; revoked_at: number | null; revocation_reason: string | null }

const toRow = (r: Raw): DeviceRow => ({
  id: r.id, status: r.status as DeviceRow["status"], createdAt: r.created_at, lastSeen: r.last_seen, online: r.online,
  revokedAt: r.revoked_at, revocationReason: r.revocation_reason as RevocationReason | null,
});

/** Devices on PostgreSQL. `q` is the pool, or the one client of a transaction. */
export class PgDevices implements DeviceRepository {
  /** `batch` runs a function on one client inside BEGIN/COMMIT (the store's own transaction when bound to one). */
  constructor(private readonly q: Queryable, private readonly batch: <T>(fn: (q: Queryable) => Promise<T>) => Promise<T>) {}

  async get(id: string) {
    const [r] = await rows<Raw>(this.q, "SELECT * FROM devices WHERE id = $1", [id]);
    return r && toRow(r);
  }

  async list() {
    return (await rows<Raw>(this.q, "SELECT * FROM devices ORDER BY id")).map(toRow);
  }

  async ensure(id: string, now: number) {
    await this.q.query("INSERT INTO devices(id, status, created_at) VALUES ($1, 'active', $2) ON CONFLICT (id) DO NOTHING", [id, now]);
  }

  async revoke(id: string, reason: RevocationReason, now: number) {
    return (await changed(this.q, "UPDATE devices SET status = 'revoked', revoked_at = $1, revocation_reason = $2, online = FALSE WHERE id = $3 AND status = 'active'", [now, reason, id])) === 1;
  }

  async recordPresence(batch: ReadonlyArray<{ id: string; at: number; online: boolean }>) {
    if (batch.length === 0) return;
    await this.batch(async (q) => {
      for (const p of batch) {
        await q.query("UPDATE devices SET last_seen = GREATEST(COALESCE(last_seen, 0), $1), online = $2 WHERE id = $3", [p.at, p.online, p.id]);
      }
    });
  }
}
