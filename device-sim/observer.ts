import { Worker } from "node:worker_threads";
import type { ConnectorOptions, MqttTarget } from "./connector.js";
import type { ObserverMessage, ObserverWorkerData } from "./observer-worker.js";
import type { FleetStats } from "./stats.js";

/** What the observer needs to know of a device: where to keep its delivery count. */
export interface DeliveryRecord {
  readonly id: string;
  lastDeliveredSeq: number;
  delivered: number;
}

export const TELEMETRY_FILTER = "devices/+/telemetry";

const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * The backend consumer: connects as a `service` (README "MQTT" lets it subscribe
 * to devices/+/telemetry) on its own thread (observer-worker.ts), and here
 * counts each device's messages once (seq above the last one seen; QoS 1 may
 * deliver twice) and records the end-to-end latency. Messages from devices
 * outside this run are ignored.
 */
export class TelemetryObserver {
  private worker: Worker | null = null;
  private closed: Promise<void> | null = null;
  /** Messages that were not ours or did not parse. */
  ignored = 0;

  constructor(
    private readonly o: {
      readonly target: MqttTarget;
      readonly connector: ConnectorOptions;
      readonly cred: { readonly certPem: string; readonly keyPem: string; readonly caPem: string };
      readonly clientId: string;
      readonly devices: readonly DeliveryRecord[];
      readonly stats: FleetStats;
      readonly clock: () => number;
      readonly onLost: (reason: string) => void;
    },
  ) {}

  /** Connects and subscribes; resolves once the SUBACK grants the subscription. */
  start(): Promise<void> {
    const { o } = this;
    const data: ObserverWorkerData = {
      target: o.target, connector: o.connector, certPem: o.cred.certPem, keyPem: o.cred.keyPem, caPem: o.cred.caPem,
      clientId: o.clientId, filter: TELEMETRY_FILTER, ids: o.devices.map((d) => d.id),
      // Epoch minus monotonic time of *our* clock, so the worker's receive times match the devices' timestamps.
      clockAnchor: o.clock() - hrMs(),
    };
    const w = new Worker(new URL("./observer-worker.js", import.meta.url), { workerData: data });
    this.worker = w;
    let closedResolve: () => void = () => {};
    this.closed = new Promise<void>((r) => (closedResolve = r));
    return new Promise<void>((resolve, rejectStart) => {
      let ready = false;
      const reject = (e: Error) => {
        rejectStart(e);
        // Nothing will use a subscriber that never subscribed; do not leave its thread running.
        void w.terminate();
        this.worker = null;
      };
      w.on("message", (m: ObserverMessage) => {
        switch (m.type) {
          case "ready": ready = true; resolve(); break;
          case "failed": reject(new Error(m.message)); break;
          case "lost": o.onLost(m.reason); break;
          case "batch": this.take(m.data, m.ignored); break;
          case "closed": closedResolve(); break;
        }
      });
      w.on("error", (e) => (ready ? o.onLost("observer:error") : reject(e)));
      w.on("exit", () => {
        closedResolve();
        if (!ready) rejectStart(new Error("service subscriber thread exited before subscribing"));
      });
    });
  }

  private take(data: Float64Array, ignored: number): void {
    const { devices, stats } = this.o;
    this.ignored += ignored;
    for (let i = 0; i < data.length; i += 3) {
      const d = devices[data[i]!]!;
      const seq = data[i + 1]!;
      if (seq <= d.lastDeliveredSeq) {
        stats.duplicates++;
        continue;
      }
      d.lastDeliveredSeq = seq;
      d.delivered++;
      stats.delivered++;
      stats.recordLatency(data[i + 2]!);
    }
  }

  /** Disconnects cleanly; every batch received before the DISCONNECT has been counted when this resolves. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    w.postMessage({ type: "close" });
    await this.closed;
    await w.terminate();
    this.worker = null;
  }
}
