import type { AuditRepository } from "../store.js";
import { PRESENCE_TYPES, type AuditEvent, type AuditQuery, type NewAuditEvent } from "../types.js";
import { rows, type Queryable } from "./query.js";

const NOT_PRESENCE = `type NOT IN (${PRESENCE_TYPES.map((t) => `'${t}'`).join(", ")})`;

interface Raw { id: number; at: number; type: string; actor: string | null; device_id: string | null; serial: string | null; code: string | null; detail: string | null }

const toEvent = (r: Raw): AuditEvent => ({
  id: r.id, at: r.at, type: r.type, actor: r.actor, deviceId: r.device_id, serial: r.serial, code: r.code,
  detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
});

/** Append-only audit trail on PostgreSQL (triggers refuse UPDATE, DELETE and TRUNCATE), newest first by event time. */
export class PgAudit implements AuditRepository {
  constructor(private readonly q: Queryable, private readonly clock: () => number) {}

  async append(e: NewAuditEvent) {
    await this.q.query("INSERT INTO audit_events(at, type, actor, device_id, serial, code, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)", [
      e.at ?? this.clock(), e.type, e.actor ?? null, e.deviceId ?? null, e.serial ?? null, e.code ?? null, e.detail ? JSON.stringify(e.detail) : null,
    ]);
  }

  newest(limit: number) {
    return this.query({ limit });
  }

  forDevice(deviceId: string, limit: number) {
    return this.query({ limit, deviceId });
  }

  /** Newest first, filtered by device, exact type, or `security` (everything but presence events). */
  async query(q: AuditQuery): Promise<AuditEvent[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.deviceId !== undefined) where.push(`device_id = $${values.push(q.deviceId)}`);
    if (q.type !== undefined) where.push(`type = $${values.push(q.type)}`);
    else if (q.security) where.push(NOT_PRESENCE);
    const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT $${values.push(q.limit)}`;
    return (await rows<Raw>(this.q, sql, values)).map(toEvent);
  }
}
