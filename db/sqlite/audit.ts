import type { Database, Statement } from "better-sqlite3";
import { PRESENCE_TYPES, type AuditEvent, type AuditQuery, type NewAuditEvent } from "../types.js";

const NOT_PRESENCE = `type NOT IN (${PRESENCE_TYPES.map((t) => `'${t}'`).join(", ")})`;

interface Raw { id: number; at: number; type: string; actor: string | null; device_id: string | null; serial: string | null; code: string | null; detail: string | null }

const toEvent = (r: Raw): AuditEvent => ({
  id: r.id, at: r.at, type: r.type, actor: r.actor, deviceId: r.device_id, serial: r.serial, code: r.code,
  detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
});

/** Append-only audit trail (the table's triggers refuse UPDATE and DELETE), read newest first by event time. */
export class Audit {
  private readonly sInsert: Statement<[number, string, string | null, string | null, string | null, string | null, string | null]>;
  private readonly sNewest: Statement<[number], Raw>;
  private readonly sDevice: Statement<[string, number], Raw>;
  private readonly sType: Statement<[string, number], Raw>;
  private readonly sDeviceType: Statement<[string, string, number], Raw>;
  private readonly sSecurity: Statement<[number], Raw>;
  private readonly sDeviceSecurity: Statement<[string, number], Raw>;

  constructor(db: Database, private readonly clock: () => number) {
    this.sInsert = db.prepare("INSERT INTO audit_events(at, type, actor, device_id, serial, code, detail) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.sNewest = db.prepare("SELECT * FROM audit_events ORDER BY at DESC, id DESC LIMIT ?");
    this.sDevice = db.prepare("SELECT * FROM audit_events WHERE device_id = ? ORDER BY at DESC, id DESC LIMIT ?");
    this.sType = db.prepare("SELECT * FROM audit_events WHERE type = ? ORDER BY at DESC, id DESC LIMIT ?");
    this.sDeviceType = db.prepare("SELECT * FROM audit_events WHERE device_id = ? AND type = ? ORDER BY at DESC, id DESC LIMIT ?");
    // Everything but presence (connect/disconnect): walks the trail newest first, skipping presence rows.
    this.sSecurity = db.prepare(`SELECT * FROM audit_events WHERE ${NOT_PRESENCE} ORDER BY at DESC, id DESC LIMIT ?`);
    this.sDeviceSecurity = db.prepare(`SELECT * FROM audit_events WHERE device_id = ? AND ${NOT_PRESENCE} ORDER BY at DESC, id DESC LIMIT ?`);
  }

  append(e: NewAuditEvent): void {
    this.sInsert.run(
      e.at ?? this.clock(), e.type, e.actor ?? null, e.deviceId ?? null, e.serial ?? null, e.code ?? null,
      e.detail ? JSON.stringify(e.detail) : null,
    );
  }

  newest(limit: number): AuditEvent[] {
    return this.sNewest.all(limit).map(toEvent);
  }

  forDevice(deviceId: string, limit: number): AuditEvent[] {
    return this.sDevice.all(deviceId, limit).map(toEvent);
  }

  /**
   * Newest first, filtered: by device, by exact event type, or `security` (every
   * type but the presence events mqtt.connected / mqtt.disconnected).
   */
  query(q: AuditQuery): AuditEvent[] {
    const { limit, deviceId, type } = q;
    let rows: Raw[];
    if (type !== undefined) rows = deviceId === undefined ? this.sType.all(type, limit) : this.sDeviceType.all(deviceId, type, limit);
    else if (q.security) rows = deviceId === undefined ? this.sSecurity.all(limit) : this.sDeviceSecurity.all(deviceId, limit);
    else rows = deviceId === undefined ? this.sNewest.all(limit) : this.sDevice.all(deviceId, limit);
    return rows.map(toEvent);
  }
}
