import type { RevocationRepository } from "../store.js";
import type { RevocationLogEntry } from "../types.js";
import { rows, type Queryable } from "./query.js";

interface Raw { seq: number; device_id: string | null; serial: string; at: number }

/** The revocation log every gateway process follows, and the shared CRL counter, on PostgreSQL. */
export class PgRevocations implements RevocationRepository {
  constructor(private readonly q: Queryable) {}

  async append(deviceId: string | null, serial: string, at: number) {
    await this.q.query("INSERT INTO revocation_log(device_id, serial, at) VALUES ($1, $2, $3)", [deviceId, serial, at]);
  }

  async since(seq: number): Promise<RevocationLogEntry[]> {
    const rs = await rows<Raw>(this.q, "SELECT * FROM revocation_log WHERE seq > $1 ORDER BY seq LIMIT 10000", [seq]);
    return rs.map((r) => ({ seq: r.seq, deviceId: r.device_id, serial: r.serial, at: r.at }));
  }

  async head() {
    const [r] = await rows<{ seq: number | null }>(this.q, "SELECT max(seq) AS seq FROM revocation_log");
    return r?.seq ?? 0;
  }

  /** Monotonic CRL number (RFC 5280 §5.2.3): the row lock orders concurrent callers on every node. */
  async nextCrlNumber() {
    const [r] = await rows<{ value: number }>(this.q, "UPDATE counters SET value = value + 1 WHERE name = 'crl_number' RETURNING value");
    return r!.value;
  }
}
