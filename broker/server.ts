import type { Deps } from "../deps.js";
import type { Metrics } from "../metrics.js";
import type { LoadedPki } from "../enroll/pki.js";

export interface BrokerHandle {
  readonly port: number;
  close(): Promise<void>;
}

/** The mqtts listener (issue 4 fills this in). */
export async function startBroker(_d: Deps & { metrics: Metrics; pki: LoadedPki }): Promise<BrokerHandle> {
  throw new Error("not implemented yet: issue 4");
}
