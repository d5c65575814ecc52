import type { BackoffPolicy } from "./backoff.js";
import type { MqttConnector } from "./connector.js";
import type { Device } from "./device.js";
import type { DeviceKey } from "./device-csr.js";
import type { RenewAt } from "./renewal.js";
import type { Scheduler } from "./scheduler.js";
import type { CredentialStore } from "./state.js";
import type { FleetStats } from "./stats.js";

/**
 * The EST operations a device uses (RFC 7030 §4.2). device-sim/est-client.ts
 * (EstClient) implements them; the device only sees this port, so tests and
 * benches can pass any implementation.
 */
export interface EstPort {
  simpleEnroll(csrDer: Buffer, auth: { deviceId: string; token: string } | { certPem: string; keyPem: string }): Promise<string>;
  simpleReenroll(csrDer: Buffer, cred: { certPem: string; keyPem: string }): Promise<string>;
}

/** How a device proves itself for its first enrollment (README "EST enrollment"): a one-time token, or a manufacturer certificate. */
export type BootstrapAuth = { readonly token: string } | { readonly certPem: string; readonly keyPem: string };

export interface DeviceConfig {
  readonly qos: 0 | 1;
  readonly payloadBytes: number;
  readonly renewAt: RenewAt;
  readonly backoff: BackoffPolicy;
  /** Attempts of simpleenroll before the device gives up (transient errors only; refusals are final at once). */
  readonly enrollAttempts: number;
  /** Unacknowledged publishes per device above which a tick is skipped instead of queueing more. */
  readonly maxInflight: number;
  readonly caPem: string;
}

/** What the fleet learns from a device. */
export interface DeviceListener {
  /** First time online, or gave up before that: frees a start slot. Called once. */
  started(d: Device): void;
  online(d: Device): void;
  offline(d: Device): void;
  /** The device stopped for good (d.failure says why). */
  terminal(d: Device): void;
  /** A failure that did not stop the device (e.g. a renewal refused while the old certificate still works). */
  failed(d: Device, reason: string): void;
}

/** The collaborators every device shares: one object for the whole fleet. */
export interface DeviceEnv {
  readonly clock: () => number;
  readonly random: () => number;
  readonly scheduler: Scheduler;
  readonly est: EstPort;
  readonly creds: CredentialStore;
  readonly stats: FleetStats;
  readonly connector: MqttConnector;
  readonly config: DeviceConfig;
  readonly listener: DeviceListener;
  readonly keygen: () => Promise<DeviceKey>;
}

export type DeviceState = "idle" | "enrolling" | "connecting" | "online" | "backoff" | "revoked" | "failed" | "stopped";
