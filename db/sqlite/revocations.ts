import type { Database, Statement } from "better-sqlite3";
import type { RevocationLogEntry } from "../types.js";

interface Raw { seq: number; device_id: string | null; serial: string; at: number }

/**
 * The revocation log: an append-only sequence that every gateway process
 * follows with one cheap indexed query per tick (not one per connection), so a
 * revocation written by any process reaches every broker.
 */
export class RevocationLog {
  private readonly sAppend: Statement<[string | null, string, number]>;
  private readonly sSince: Statement<[number], Raw>;
  private readonly sHead: Statement<[], { seq: number | null }>;
  private readonly sNextCrl: Statement<[], { value: number }>;

  constructor(db: Database) {
    this.sAppend = db.prepare("INSERT INTO revocation_log(device_id, serial, at) VALUES (?, ?, ?)");
    this.sSince = db.prepare("SELECT * FROM revocation_log WHERE seq > ? ORDER BY seq LIMIT 10000");
    this.sHead = db.prepare("SELECT max(seq) AS seq FROM revocation_log");
    this.sNextCrl = db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'crl_number' RETURNING value");
  }

  append(deviceId: string | null, serial: string, at: number): void {
    this.sAppend.run(deviceId, serial, at);
  }

  since(seq: number): RevocationLogEntry[] {
    return this.sSince.all(seq).map((r) => ({ seq: r.seq, deviceId: r.device_id, serial: r.serial, at: r.at }));
  }

  head(): number {
    return this.sHead.get()?.seq ?? 0;
  }

  /** Monotonic CRL number (RFC 5280 §5.2.3), shared by all processes. */
  nextCrlNumber(): number {
    return this.sNextCrl.get()!.value;
  }
}
