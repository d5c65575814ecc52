import type { MqttClient, ISubscriptionGrant } from "mqtt";
import type { MqttConnector } from "./connector.js";
import { secureContextFor } from "./connector.js";
import type { FleetStats } from "./stats.js";
import { parsePayload, telemetryTopicId } from "./telemetry.js";

/** What the observer needs to know of a device: where to keep its delivery count. */
export interface DeliveryRecord {
  lastDeliveredSeq: number;
  delivered: number;
}

export const TELEMETRY_FILTER = "devices/+/telemetry";

/**
 * The backend consumer: connects as a `service` (CONTRACT §5 lets it subscribe
 * to devices/+/telemetry), counts each device's messages once (seq above the
 * last one seen; QoS 1 may deliver twice) and records the end-to-end latency
 * from the publisher's timestamp. Messages from devices outside this run are ignored.
 */
export class TelemetryObserver {
  private client: MqttClient | null = null;
  private closing = false;
  private connectedOnce = false;
  /** Times the subscriber lost its connection mid-run (each one can lose messages). */
  disconnects = 0;
  /** Messages that were not ours or did not parse. */
  ignored = 0;

  constructor(
    private readonly connector: MqttConnector,
    private readonly cred: { certPem: string; keyPem: string; caPem: string },
    private readonly clientId: string,
    private readonly devices: ReadonlyMap<string, DeliveryRecord>,
    private readonly stats: FleetStats,
    private readonly clock: () => number,
    private readonly onLost: (reason: string) => void,
  ) {}

  /** Connects and subscribes; resolves once the SUBACK grants the subscription. */
  start(): Promise<void> {
    const ctx = secureContextFor(this.cred.keyPem, this.cred.certPem, this.cred.caPem);
    return new Promise<void>((resolve, reject) => {
      const c = this.connector.create(this.clientId, ctx);
      this.client = c;
      let lastErr: Error | undefined;
      c.on("error", (e) => (lastErr = e));
      c.on("message", (topic, payload) => this.onMessage(topic, payload));
      c.once("connect", () => {
        c.subscribe(TELEMETRY_FILTER, { qos: 1 }, (err: Error | null, granted?: ISubscriptionGrant[]) => {
          if (err || !granted || granted.some((g) => g.qos === 0x80)) {
            c.end(true);
            reject(new Error(`service subscription to ${TELEMETRY_FILTER} was refused`));
            return;
          }
          this.connectedOnce = true;
          resolve();
        });
      });
      c.on("close", () => {
        if (!this.connectedOnce) {
          reject(new Error(`service subscriber could not connect: ${lastErr?.message ?? "connection closed"}`));
          return;
        }
        if (this.closing) return;
        // Losing the subscriber loses messages; say so rather than reconnect silently.
        this.disconnects++;
        this.onLost(`observer:${lastErr ? "error" : "disconnected"}`);
        c.end(true);
      });
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const now = this.clock();
    const h = parsePayload(payload);
    const dev = h && telemetryTopicId(topic) === h.id ? this.devices.get(h.id) : undefined;
    if (!h || !dev) {
      this.ignored++;
      return;
    }
    if (h.seq <= dev.lastDeliveredSeq) {
      this.stats.duplicates++;
      return;
    }
    dev.lastDeliveredSeq = h.seq;
    dev.delivered++;
    this.stats.delivered++;
    this.stats.recordLatency(now - h.ts);
  }

  close(): Promise<void> {
    this.closing = true;
    const c = this.client;
    if (!c) return Promise.resolve();
    return new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
  }
}
