import type { NewAuditEvent } from "../db/types.js";

export type PresenceEventType = "mqtt.connected" | "mqtt.disconnected";

export interface PresenceEvent {
  readonly type: PresenceEventType;
  readonly deviceId: string;
  readonly at: number;
  readonly serial?: string | null;
}

/** One identity's current window: what was written and what was folded. */
interface Run {
  readonly start: number;
  wroteConnect: boolean;
  wroteDisconnect: boolean;
  /** Connects folded into this window (connect/disconnect cycles not written). */
  cycles: number;
  /** The newest folded event, written when the window closes so the trail ends in the true state. */
  last: PresenceEvent | undefined;
}

const toAudit = (e: PresenceEvent): NewAuditEvent => ({
  at: e.at, type: e.type, actor: `device:${e.deviceId}`, deviceId: e.deviceId, ...(e.serial !== undefined ? { serial: e.serial } : {}),
});

/**
 * Coalesces a device's connect/disconnect audit events: per device, within a
 * window of `windowMs` from its first event, only the first connect and the
 * first disconnect are written. Later ones are counted; when the window closes,
 * one more row is written: the newest folded event (so the trail ends in the
 * device's real state) with `detail.suppressedCycles`, the number of connects
 * folded into it. A device in a connect loop writes about three rows per window
 * instead of two per cycle, so it cannot push security events out of the
 * newest-N view. Pure state over the caller's clock.
 */
export class CycleCoalescer {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly windowMs: number) {}

  /** The audit rows to write for `e` now (none when it is folded). */
  event(e: PresenceEvent): NewAuditEvent[] {
    const out: NewAuditEvent[] = [];
    let run = this.runs.get(e.deviceId);
    if (run && e.at - run.start >= this.windowMs) {
      const summary = this.close(e.deviceId, run);
      if (summary) out.push(summary);
      run = undefined;
    }
    if (!run) {
      run = { start: e.at, wroteConnect: false, wroteDisconnect: false, cycles: 0, last: undefined };
      this.runs.set(e.deviceId, run);
    }
    const connect = e.type === "mqtt.connected";
    if (connect ? !run.wroteConnect : !run.wroteDisconnect) {
      if (connect) run.wroteConnect = true;
      else run.wroteDisconnect = true;
      out.push(toAudit(e));
      return out;
    }
    if (connect) run.cycles++;
    run.last = e;
    return out;
  }

  /** Rows for windows that closed by `now` (all windows with `all`, e.g. at shutdown). */
  due(now: number, all = false): NewAuditEvent[] {
    const out: NewAuditEvent[] = [];
    for (const [id, run] of this.runs) {
      if (!all && now - run.start < this.windowMs) continue;
      const summary = this.close(id, run);
      if (summary) out.push(summary);
    }
    return out;
  }

  /** Devices with an open window (bounded by the devices active within one window). */
  get tracked(): number {
    return this.runs.size;
  }

  private close(id: string, run: Run): NewAuditEvent | undefined {
    this.runs.delete(id);
    if (!run.last) return undefined;
    return { ...toAudit(run.last), detail: { suppressedCycles: run.cycles, since: new Date(run.start).toISOString() } };
  }
}
