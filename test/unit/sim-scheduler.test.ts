import { test } from "node:test";
import assert from "node:assert/strict";
import { PERIODIC, Scheduler, type Tickable } from "../../device-sim/scheduler.js";

class Probe implements Tickable {
  schedSlot = -1;
  readonly calls: [number, number][] = [];
  onTimer(kind: number, now: number): void {
    this.calls.push([kind, now]);
  }
  periodic(): number[] {
    return this.calls.filter(([k]) => k === PERIODIC).map(([, t]) => t);
  }
}

function manual(periodMs: number, tickMs = 10) {
  let now = 0;
  const s = new Scheduler({ clock: () => now, tickMs, periodMs, setInterval: () => 1, clearInterval: () => {} });
  s.start();
  return { s, advance: (ms: number) => { for (let t = 0; t < ms; t += tickMs) { now += tickMs; s.tick(now); } }, now: () => now };
}

test("scheduler: each member is called once per period, phases spread over the wheel", () => {
  const { s, advance } = manual(1000);
  const probes = Array.from({ length: 200 }, () => new Probe());
  probes.forEach((p) => s.join(p));
  advance(3000);
  for (const p of probes) assert.equal(p.periodic().length, 3);
  // 200 members over 100 slots: two per tick, never a burst of all 200.
  const perTick = new Map<number, number>();
  for (const p of probes) for (const t of p.periodic()) perTick.set(t, (perTick.get(t) ?? 0) + 1);
  assert.ok(Math.max(...perTick.values()) <= 2, `max per tick ${Math.max(...perTick.values())}`);
});

test("scheduler: a period shorter than a tick calls members several times per tick", () => {
  const { s, advance } = manual(2.5, 10);
  const p = new Probe();
  s.join(p);
  advance(100);
  assert.equal(p.periodic().length, 40);
});

test("scheduler: leave stops the calls; join twice is harmless", () => {
  const { s, advance } = manual(100);
  const p = new Probe();
  s.join(p);
  s.join(p);
  assert.equal(s.members, 1);
  advance(200);
  const n = p.periodic().length;
  s.leave(p);
  assert.equal(p.schedSlot, -1);
  advance(500);
  assert.equal(p.periodic().length, n);
  assert.equal(n, 2);
});

test("scheduler: one-shot timers fire in due order, once, and can be cancelled", () => {
  const { s, advance } = manual(1000);
  const p = new Probe();
  s.after(50, p, 7);
  s.after(20, p, 5);
  const c = s.after(30, p, 6);
  s.after(20, p, 8);
  c.cancelled = true;
  advance(100);
  assert.deepEqual(p.calls.map(([k]) => k), [5, 8, 7]);
  assert.equal(s.pendingTimers, 0);
});

test("scheduler: a long stall is caught up only up to the limit, and the skip is counted", () => {
  let now = 0;
  const s = new Scheduler({ clock: () => now, tickMs: 10, periodMs: 100, setInterval: () => 1, clearInterval: () => {}, maxCatchUpPeriods: 2 });
  s.start();
  const p = new Probe();
  s.join(p);
  now = 10_000;
  s.tick(now);
  assert.equal(p.periodic().length, 2);
  assert.ok(s.skippedSteps > 900);
});

test("scheduler: start and stop use the injected interval exactly once", () => {
  let started = 0;
  let stopped = 0;
  const s = new Scheduler({ clock: () => 0, tickMs: 10, periodMs: 1000, setInterval: () => ++started, clearInterval: () => void stopped++ });
  s.start();
  s.start();
  s.stop();
  s.stop();
  assert.deepEqual([started, stopped], [1, 1]);
  assert.throws(() => new Scheduler({ clock: () => 0, tickMs: 10, periodMs: 0 }), RangeError);
});

test("scheduler: a very long period still calls members once per period, with a bounded wheel", () => {
  const { s, advance } = manual(3_600_000, 10);
  const probes = Array.from({ length: 10 }, () => new Probe());
  probes.forEach((p) => s.join(p));
  advance(3_600_000);
  for (const p of probes) assert.equal(p.periodic().length, 1);
});
