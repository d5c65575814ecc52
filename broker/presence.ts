import type { Store } from "../db/store.js";
import type { Logger } from "../log.js";
import type { NewAuditEvent } from "../db/types.js";
import { CycleCoalescer } from "./audit-coalesce.js";

const MAX_PENDING_EVENTS = 50_000;

/**
 * Last seen and online state for `devices list`, written in batches: one SQLite
 * transaction per flush (every `flushMs`) instead of one write per CONNECT,
 * PUBLISH or disconnect. A device with activity since the last flush gets its
 * last-seen time moved forward.
 */
export class Presence {
  private pending = new Map<string, { at: number; online: boolean }>();
  /** Audit events (connects, disconnects) written with the next presence batch, bounded. */
  private events: NewAuditEvent[] = [];
  private droppedEvents = 0;
  private active = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly cycles: CycleCoalescer;

  constructor(
    private readonly d: { store: Store; clock: () => number; log: Logger },
    /** Whether this process still holds a live session of the device (late activity marks must not resurrect it). */
    private readonly isLive: (deviceId: string) => boolean,
    private readonly flushMs = 1000,
    /** Window in which one device's repeated connect/disconnect audit events are coalesced. */
    auditWindowMs = 60_000,
  ) {
    this.cycles = new CycleCoalescer(auditWindowMs);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  online(deviceId: string, serial?: string): void {
    const at = this.d.clock();
    this.pending.set(deviceId, { at, online: true });
    for (const e of this.cycles.event({ at, type: "mqtt.connected", deviceId, serial: serial ?? null })) this.audit(e);
  }

  offline(deviceId: string): void {
    this.active.delete(deviceId);
    const at = this.d.clock();
    this.pending.set(deviceId, { at, online: false });
    for (const e of this.cycles.event({ at, type: "mqtt.disconnected", deviceId })) this.audit(e);
  }

  /** Queues an audit event for the next flush; past MAX_PENDING_EVENTS they are counted and dropped, never blocking the broker. */
  audit(e: NewAuditEvent): void {
    if (this.events.length >= MAX_PENDING_EVENTS) {
      this.droppedEvents++;
      return;
    }
    this.events.push(e);
  }

  /** Cheap per-message mark; resolved to a write at the next flush. */
  touch(deviceId: string): void {
    this.active.add(deviceId);
  }

  /** Never rejects: a batch that cannot be written is kept for the next flush. */
  async flush(all = false): Promise<void> {
    for (const e of this.cycles.due(this.d.clock(), all)) this.audit(e);
    if (this.active.size > 0) {
      const now = this.d.clock();
      for (const id of this.active) if (!this.pending.has(id) && this.isLive(id)) this.pending.set(id, { at: now, online: true });
      this.active.clear();
    }
    if (this.pending.size === 0 && this.events.length === 0) return;
    const batch = [...this.pending].map(([id, p]) => ({ id, at: p.at, online: p.online }));
    const events = this.events;
    this.pending = new Map();
    this.events = [];
    if (this.droppedEvents > 0) {
      this.d.log.warn({ code: "FG_INTERNAL", dropped: this.droppedEvents }, "audit events dropped: connect rate above what the audit batch holds");
      this.droppedEvents = 0;
    }
    try {
      // One transaction for the whole batch: presence and the connect/disconnect audit events.
      await this.d.store.transaction(async (tx) => {
        await tx.devices.recordPresence(batch);
        for (const e of events) await tx.audit.append(e);
      });
    } catch (err) {
      // Keep what was not written (unless newer news arrived meanwhile) and retry next flush.
      for (const p of batch) if (!this.pending.has(p.id)) this.pending.set(p.id, { at: p.at, online: p.online });
      this.events = events.concat(this.events).slice(0, MAX_PENDING_EVENTS);
      this.d.log.warn({ err, code: "FG_INTERNAL", devices: batch.length }, "presence flush failed; will retry");
    }
  }

  /** Final flush on close: the given devices (this process's live ones) are marked offline. */
  stop(stillOnline: Iterable<string>): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const id of stillOnline) this.offline(id);
    return this.flush(true);
  }
}
