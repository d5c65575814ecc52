import { build, type Histogram } from "hdr-histogram-js";

/** Latencies are recorded in microseconds: hdr histograms count integers, and sub-ms matters on loopback. */
const newHistogram = (): Histogram => build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

/**
 * The run's counters, written by devices and the service subscriber, read by
 * the progress line and the report. Plain fields: one object for the fleet,
 * no allocation per message.
 */
export class FleetStats {
  devices = 0;
  /** Devices that completed simpleenroll in this run (renewals are counted apart). */
  enrolled = 0;
  /** Completed simplereenroll. */
  renewed = 0;
  /** Devices that reached CONNACK 0 at least once in this run. */
  connected = 0;
  /** Devices online right now. */
  online = 0;
  /** Telemetry acknowledged by the gateway (PUBACK at QoS 1, written at QoS 0). */
  published = 0;
  /** Devices whose first telemetry message was acknowledged. */
  publishedOnce = 0;
  /** Telemetry received by the service subscriber (duplicates excluded). */
  delivered = 0;
  duplicates = 0;
  /** Publishes sent and not yet acknowledged. */
  inflight = 0;
  /** Ticks on which a device skipped a message because too many were unacknowledged. */
  skipped = 0;
  /** Publishes that failed (connection closed before PUBACK). */
  unacked = 0;
  commandsReceived = 0;
  /** Terminal failures by reason: these make the exit status 1. */
  readonly failures = new Map<string, number>();
  /** Transient errors that were retried, by reason (informational). */
  readonly retries = new Map<string, number>();

  /** When the first device was started (ms epoch). */
  runStartedAt = NaN;
  /** Spans for the rates: first enrollment started .. last enrollment done, and the same for first connections. */
  enrollFirstStart = NaN;
  enrollLastDone = NaN;
  connectFirstStart = NaN;
  connectLastDone = NaN;
  /** When every device had been connected and published once (NaN until then). */
  allPublishedOnceAt = NaN;

  readonly latency: Histogram = newHistogram();
  /** The last progress interval only; reset by the progress line. */
  readonly window: Histogram = newHistogram();

  fail(reason: string): void {
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  retry(reason: string): void {
    this.retries.set(reason, (this.retries.get(reason) ?? 0) + 1);
  }

  failureCount(): number {
    let n = 0;
    for (const v of this.failures.values()) n += v;
    return n;
  }

  recordLatency(ms: number): void {
    const us = Math.max(1, Math.round(ms * 1000));
    this.latency.recordValue(us);
    this.window.recordValue(us);
  }

  enrollStarted(now: number): void {
    if (Number.isNaN(this.enrollFirstStart)) this.enrollFirstStart = now;
  }

  enrollDone(now: number): void {
    this.enrolled++;
    this.enrollLastDone = now;
  }

  connectStarted(now: number): void {
    if (Number.isNaN(this.connectFirstStart)) this.connectFirstStart = now;
  }

  firstConnectDone(now: number): void {
    this.connected++;
    this.connectLastDone = now;
  }

  firstPublishAcked(now: number): void {
    this.publishedOnce++;
    if (this.publishedOnce === this.devices) this.allPublishedOnceAt = now;
  }

  destroy(): void {
    this.latency.destroy();
    this.window.destroy();
  }
}
