import type { Histogram } from "hdr-histogram-js";

/** device-sim/README.md: the one JSON object the simulator writes at the end. */
export interface SimReport {
  devices: number;
  enrolled: number;
  connected: number;
  published: number;
  /** null when nothing measured it (no --data, so no service subscriber). */
  delivered: number | null;
  failures: Record<string, number>;
  enrollPerSec: number;
  connectPerSec: number;
  /** null fields when no message was delivered to the service subscriber. */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
}

export interface ReportInput {
  readonly devices: number;
  readonly enrolled: number;
  readonly connected: number;
  readonly published: number;
  readonly delivered: number | null;
  readonly failures: ReadonlyMap<string, number>;
  readonly enrollSpanMs: number;
  readonly connectSpanMs: number;
  readonly latency: Pick<Histogram, "totalCount" | "getValueAtPercentile" | "maxValue"> | null;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Per-second rate of `count` events spread over `spanMs`. A span shorter than
 * a millisecond (one event, or a clock that did not move) reports the count
 * itself rather than a division by ~0.
 */
export function perSecond(count: number, spanMs: number): number {
  if (count <= 0 || !Number.isFinite(spanMs)) return 0;
  if (spanMs < 1) return count;
  return round2((count * 1000) / spanMs);
}

/** Histogram values are microseconds; the report speaks milliseconds, two decimals. */
const ms = (us: number) => round2(us / 1000);

export function buildReport(r: ReportInput): SimReport {
  const failures: Record<string, number> = {};
  for (const [k, v] of [...r.failures].sort(([a], [b]) => a.localeCompare(b))) if (v > 0) failures[k] = v;
  const h = r.latency;
  const has = h !== null && h.totalCount > 0;
  return {
    devices: r.devices,
    enrolled: r.enrolled,
    connected: r.connected,
    published: r.published,
    delivered: r.delivered,
    failures,
    enrollPerSec: perSecond(r.enrolled, r.enrollSpanMs),
    connectPerSec: perSecond(r.connected, r.connectSpanMs),
    latencyMs: {
      p50: has ? ms(h.getValueAtPercentile(50)) : null,
      p95: has ? ms(h.getValueAtPercentile(95)) : null,
      p99: has ? ms(h.getValueAtPercentile(99)) : null,
      max: has ? ms(h.maxValue) : null,
    },
  };
}

/** How a device ended the run, as far as the report cares. */
export interface DeviceEnd {
  readonly state: string;
  readonly connects: number;
  readonly failure: string | null;
  readonly lastError: string;
  readonly published: number;
  readonly delivered: number;
}

/**
 * Failures that show only at the end of the run (terminal failures were
 * counted as they happened): devices the run never started, devices that never
 * connected, and at QoS 1 with a subscriber, messages the gateway acknowledged
 * that never arrived ("lost", counted per device so duplicates elsewhere cannot hide a loss).
 */
export function endStateFailures(devices: Iterable<DeviceEnd>, countLost: boolean): Map<string, number> {
  const out = new Map<string, number>();
  const add = (k: string, n = 1) => out.set(k, (out.get(k) ?? 0) + n);
  let lost = 0;
  for (const d of devices) {
    if (d.state === "idle") add("notStarted");
    else if (d.state === "stopped" && d.connects === 0 && !d.failure) add(d.lastError ? `notConnected:${d.lastError}` : "notConnected");
    lost += Math.max(0, d.published - d.delivered);
  }
  if (countLost && lost > 0) add("lost", lost);
  return out;
}

/** device-sim/README.md: exit 0 only when there are no failures. */
export function reportExitCode(report: Pick<SimReport, "failures">): number {
  return Object.values(report.failures).some((n) => n > 0) ? 1 : 0;
}

export interface ProgressSnapshot {
  readonly elapsedMs: number;
  readonly devices: number;
  readonly enrolled: number;
  readonly online: number;
  readonly connected: number;
  readonly msgsPerSec: number;
  readonly delivered: number | null;
  readonly p99Ms: number | null;
  readonly failures: number;
  readonly retries: number;
}

/** The one-line progress report written to stderr about once a second. */
export function formatProgress(s: ProgressSnapshot): string {
  const t = `${(s.elapsedMs / 1000).toFixed(0).padStart(4)}s`;
  const parts = [
    `[sim ${t}]`,
    `enrolled ${s.enrolled}/${s.devices}`,
    `connected ${s.online}/${s.devices}`,
    `msgs/s ${Math.round(s.msgsPerSec)}`,
    s.delivered === null ? "delivered -" : `delivered ${s.delivered}`,
    s.p99Ms === null ? "p99 -" : `p99 ${s.p99Ms.toFixed(1)}ms`,
    `failures ${s.failures}`,
  ];
  if (s.retries > 0) parts.push(`retries ${s.retries}`);
  return parts.join("  ");
}
