/**
 * One shared tick drives every device: periodic telemetry and one-shot timers
 * (reconnect backoff, renewal, the run's own deadlines). Thousands of devices
 * cost one interval timer, not one timer per device per message.
 *
 * Periodic members sit in a timer wheel of `slots` buckets that together span
 * one period; a member joins the next bucket round-robin, so a fleet's messages
 * spread evenly over the period instead of bursting on one tick. One-shot
 * timers live in a binary min-heap, cancelled lazily.
 */
export interface Tickable {
  /** Called with the kind given to `after`, or PERIODIC for the wheel. */
  onTimer(kind: number, now: number): void;
  /** The wheel slot this member occupies (-1: none). Owned by the scheduler. */
  schedSlot: number;
}

export const PERIODIC = 0;

/** Most wheel slots: beyond this a slot spans more than one tick. */
export const MAX_SLOTS = 4096;

export interface TimerHandle {
  readonly due: number;
  cancelled: boolean;
}

interface Entry extends TimerHandle {
  readonly target: Tickable;
  readonly kind: number;
}

export interface SchedulerOptions {
  readonly clock: () => number;
  /** Length of one tick, ms (timer resolution). */
  readonly tickMs: number;
  /** Period of the periodic members, ms (1000 / rate). */
  readonly periodMs: number;
  /** Injected for tests; defaults to the global timers. */
  readonly setInterval?: (fn: () => void, ms: number) => unknown;
  readonly clearInterval?: (h: unknown) => void;
  /** Longest backlog of wheel steps worked off after a stall; older steps are skipped (and counted). */
  readonly maxCatchUpPeriods?: number;
}

export class Scheduler {
  private readonly slots: Set<Tickable>[];
  private readonly slotMs: number;
  private readonly heap: Entry[] = [];
  private origin = 0;
  private stepsDone = 0;
  private nextJoin = 0;
  private handle: unknown = undefined;
  private readonly maxCatchUp: number;
  /** Wheel steps skipped because the process stalled for longer than the catch-up window. */
  skippedSteps = 0;

  constructor(private readonly o: SchedulerOptions) {
    if (!(o.periodMs > 0) || !(o.tickMs > 0)) throw new RangeError("periodMs and tickMs must be positive");
    // A very long period (a low --rate) gets coarser slots rather than millions of them.
    const n = Math.max(1, Math.min(MAX_SLOTS, Math.floor(o.periodMs / o.tickMs)));
    this.slots = Array.from({ length: n }, () => new Set<Tickable>());
    // When the period is shorter than a tick there is one slot, walked several times per tick.
    this.slotMs = o.periodMs / n;
    // Steps in one period, or in one tick when several periods fit in a tick.
    this.maxCatchUp = Math.ceil(Math.max(o.periodMs, o.tickMs) / this.slotMs) * (o.maxCatchUpPeriods ?? 3);
    this.origin = o.clock();
  }

  start(): void {
    if (this.handle !== undefined) return;
    this.origin = this.o.clock();
    this.stepsDone = 0;
    const si = this.o.setInterval ?? ((fn: () => void, ms: number) => setInterval(fn, ms));
    this.handle = si(() => this.tick(this.o.clock()), this.o.tickMs);
  }

  stop(): void {
    if (this.handle === undefined) return;
    (this.o.clearInterval ?? ((h: unknown) => clearInterval(h as NodeJS.Timeout)))(this.handle);
    this.handle = undefined;
  }

  /** Adds a member to the wheel; it is called once per period from the next time its slot comes round. */
  join(t: Tickable): void {
    if (t.schedSlot >= 0) return;
    const i = this.nextJoin;
    this.nextJoin = (i + 1) % this.slots.length;
    this.slots[i]!.add(t);
    t.schedSlot = i;
  }

  leave(t: Tickable): void {
    if (t.schedSlot < 0) return;
    this.slots[t.schedSlot]!.delete(t);
    t.schedSlot = -1;
  }

  get members(): number {
    let n = 0;
    for (const s of this.slots) n += s.size;
    return n;
  }

  /** A one-shot timer: target.onTimer(kind, now) at or soon after clock() + delayMs. */
  after(delayMs: number, target: Tickable, kind: number): TimerHandle {
    const e: Entry = { due: this.o.clock() + Math.max(0, delayMs), target, kind, cancelled: false };
    this.push(e);
    return e;
  }

  get pendingTimers(): number {
    return this.heap.length;
  }

  /** Runs everything due at `now`. Public so tests can drive time by hand. */
  tick(now: number): void {
    const target = Math.floor((now - this.origin) / this.slotMs);
    let steps = target - this.stepsDone;
    if (steps > this.maxCatchUp) {
      this.skippedSteps += steps - this.maxCatchUp;
      this.stepsDone = target - this.maxCatchUp;
      steps = this.maxCatchUp;
    }
    const n = this.slots.length;
    for (; steps > 0; steps--) {
      const slot = this.slots[this.stepsDone % n]!;
      this.stepsDone++;
      for (const t of slot) t.onTimer(PERIODIC, now);
    }
    while (this.heap.length > 0 && this.heap[0]!.due <= now) {
      const e = this.pop()!;
      if (!e.cancelled) e.target.onTimer(e.kind, now);
    }
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.due <= e.due) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.due < h[l]!.due ? r : l;
      if (h[c]!.due >= last.due) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
