import type { Store } from "../db/store.js";
import type { Logger } from "../log.js";

/**
 * Last seen and online state for `devices list`, written in batches: one SQLite
 * transaction per flush (every `flushMs`) instead of one write per CONNECT,
 * PUBLISH or disconnect. A device with activity since the last flush gets its
 * last-seen time moved forward.
 */
export class Presence {
  private pending = new Map<string, { at: number; online: boolean }>();
  private active = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly d: { store: Store; clock: () => number; log: Logger },
    /** Whether this process still holds a live session of the device (late activity marks must not resurrect it). */
    private readonly isLive: (deviceId: string) => boolean,
    private readonly flushMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.flush(), this.flushMs);
    this.timer.unref();
  }

  online(deviceId: string): void {
    this.pending.set(deviceId, { at: this.d.clock(), online: true });
  }

  offline(deviceId: string): void {
    this.active.delete(deviceId);
    this.pending.set(deviceId, { at: this.d.clock(), online: false });
  }

  /** Cheap per-message mark; resolved to a write at the next flush. */
  touch(deviceId: string): void {
    this.active.add(deviceId);
  }

  flush(): void {
    if (this.active.size > 0) {
      const now = this.d.clock();
      for (const id of this.active) if (!this.pending.has(id) && this.isLive(id)) this.pending.set(id, { at: now, online: true });
      this.active.clear();
    }
    if (this.pending.size === 0) return;
    const batch = [...this.pending].map(([id, p]) => ({ id, at: p.at, online: p.online }));
    this.pending = new Map();
    try {
      this.d.store.devices.recordPresence(batch);
    } catch (err) {
      // Keep what was not written (unless newer news arrived meanwhile) and retry next flush.
      for (const p of batch) if (!this.pending.has(p.id)) this.pending.set(p.id, { at: p.at, online: p.online });
      this.d.log.warn({ err, code: "FG_INTERNAL", devices: batch.length }, "presence flush failed; will retry");
    }
  }

  /** Final flush on close: the given devices (this process's live ones) are marked offline. */
  stop(stillOnline: Iterable<string>): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const id of stillOnline) this.offline(id);
    this.flush();
  }
}
