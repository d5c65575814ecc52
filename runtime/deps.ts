import { EventEmitter } from "node:events";
import type { Store } from "../db/store.js";
import type { CertificateAuthority } from "../enroll/ca.js";
import type { Logger } from "../log.js";
import type { GatewayConfig } from "../config.js";

/** In-process notifications between parts of one gateway (broker, metrics, CRL). */
export interface GatewayEventMap {
  /**
   * Certificates were revoked by this process: a whole device (deviceId set), or
   * single certificates (deviceId null: a service/admin credential, or a device's
   * certificates superseded by re-provisioning). Other processes learn it from the revocation log.
   */
  revoked: [{ deviceId: string | null; serials: string[]; reason: string }];
  enrolled: [{ deviceId: string; serial: string; op: "simpleenroll" | "simplereenroll" }];
}

export class GatewayEvents extends EventEmitter<GatewayEventMap> {}

/** The collaborators every part receives as parameters, never as module globals. */
export interface Deps {
  readonly config: GatewayConfig;
  readonly store: Store;
  readonly ca: CertificateAuthority;
  readonly log: Logger;
  readonly clock: () => number;
  readonly events: GatewayEvents;
}
