import type { Deps } from "../deps.js";
import type { Metrics } from "../metrics.js";
import type { LoadedPki } from "../enroll/pki.js";

export interface BrokerHandle {
  readonly port: number;
  close(): Promise<void>;
}

/** The mqtts listener. PLACEHOLDER until issue 4 lands: it listens on nothing. */
export async function startBroker(d: Deps & { metrics: Metrics; pki: LoadedPki }): Promise<BrokerHandle> {
  d.log.warn("MQTT broker not implemented yet (issue 4)");
  return { port: 0, close: async () => {} };
}
