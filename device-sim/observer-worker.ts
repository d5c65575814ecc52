import { parentPort, workerData } from "node:worker_threads";
import type { ISubscriptionGrant } from "mqtt";
import { MqttConnector, secureContextFor, type ConnectorOptions, type MqttTarget } from "./connector.js";
import { parsePayload, telemetryTopicId } from "./telemetry.js";
import { anchoredClock } from "./clock.js";

/**
 * The telemetry subscriber's thread. It owns the `service` MQTT connection:
 * TLS, MQTT parsing, PUBACKs and JSON parsing happen here, so a simulator
 * thread busy booting thousands of devices neither delays the receive
 * timestamps nor lets the gateway's queue to this consumer fill up. Every
 * 20 ms it hands the main thread a batch of [deviceIndex, seq, latencyMs]
 * triples (a transferred Float64Array, no copy); deduplication and the
 * histograms stay on the main thread with the devices.
 */
export interface ObserverWorkerData {
  readonly target: MqttTarget;
  readonly connector: ConnectorOptions;
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly clientId: string;
  readonly filter: string;
  readonly ids: readonly string[];
  /** Epoch ms minus hrtime ms, from the main thread, so both threads read the same clock. */
  readonly clockAnchor: number;
}

export type ObserverMessage =
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "lost"; readonly reason: string }
  | { readonly type: "batch"; readonly data: Float64Array; readonly ignored: number }
  | { readonly type: "closed" };

const BATCH = 4096;
const FLUSH_MS = 20;

function run(port: NonNullable<typeof parentPort>, d: ObserverWorkerData): void {
  const clock = anchoredClock(d.clockAnchor);
  const index = new Map(d.ids.map((id, i) => [id, i]));
  let buf = new Float64Array(BATCH * 3);
  let n = 0;
  let ignored = 0;
  const flush = () => {
    if (n === 0 && ignored === 0) return;
    const data = buf.subarray(0, n * 3);
    port.postMessage({ type: "batch", data, ignored } satisfies ObserverMessage, [buf.buffer]);
    buf = new Float64Array(BATCH * 3);
    n = 0;
    ignored = 0;
  };
  const timer = setInterval(flush, FLUSH_MS);
  let connected = false;
  let closing = false;
  let lastErr: Error | undefined;
  const c = new MqttConnector(d.target, d.connector).create(d.clientId, secureContextFor(d.keyPem, d.certPem, d.caPem));
  c.on("error", (e) => (lastErr = e));
  c.on("message", (topic, payload) => {
    const now = clock();
    const h = parsePayload(payload);
    const i = h && telemetryTopicId(topic) === h.id ? index.get(h.id) : undefined;
    if (!h || i === undefined) {
      ignored++;
      return;
    }
    buf[n * 3] = i;
    buf[n * 3 + 1] = h.seq;
    buf[n * 3 + 2] = now - h.ts;
    if (++n === BATCH) flush();
  });
  c.once("connect", () => {
    c.subscribe(d.filter, { qos: 1 }, (err: Error | null, granted?: ISubscriptionGrant[]) => {
      if (err || !granted || granted.some((g) => g.qos === 0x80)) {
        port.postMessage({ type: "failed", message: `the gateway refused the subscription to ${d.filter}` } satisfies ObserverMessage);
        c.end(true);
        return;
      }
      connected = true;
      port.postMessage({ type: "ready" } satisfies ObserverMessage);
    });
  });
  c.on("close", () => {
    if (closing) return;
    if (!connected) {
      port.postMessage({ type: "failed", message: `service subscriber could not connect: ${lastErr?.message ?? "connection closed"}` } satisfies ObserverMessage);
      return;
    }
    // Losing the subscriber loses messages; say so rather than reconnect silently.
    port.postMessage({ type: "lost", reason: `observer:${lastErr ? "error" : "disconnected"}` } satisfies ObserverMessage);
    c.end(true);
  });
  port.on("message", (m: { type: string }) => {
    if (m.type !== "close") return;
    closing = true;
    const done = () => {
      clearInterval(timer);
      flush();
      port.postMessage({ type: "closed" } satisfies ObserverMessage);
      port.close();
    };
    if (!connected) return done();
    c.end(false, {}, done);
  });
}

if (parentPort) run(parentPort, workerData as ObserverWorkerData);
