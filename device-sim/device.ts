import crypto from "node:crypto";
import type tls from "node:tls";
import type { MqttClient, ISubscriptionGrant } from "mqtt";
import { buildDeviceCsr, type DeviceKey } from "./device-csr.js";
import { type BackoffPolicy, backoffDelay, retryDelay } from "./backoff.js";
import { classifyConnectFailure, classifyEstFailure, isSilentRefusal, SILENT_REFUSALS_AS_REFUSED } from "./failure-policy.js";
import { type RenewAt, renewalTime } from "./renewal.js";
import { PERIODIC, type Scheduler, type Tickable, type TimerHandle } from "./scheduler.js";
import type { CredentialStore, StoredCredential } from "./state.js";
import type { FleetStats } from "./stats.js";
import { makePayload } from "./telemetry.js";
import { type MqttConnector, secureContextFor } from "./connector.js";

/**
 * The EST operations a device uses (RFC 7030 §4.2). device-sim/est-client.ts
 * (EstClient) implements them; the device only sees this port, so tests and
 * benches can pass any implementation.
 */
export interface EstPort {
  simpleEnroll(csrDer: Buffer, auth: { deviceId: string; token: string } | { certPem: string; keyPem: string }): Promise<string>;
  simpleReenroll(csrDer: Buffer, cred: { certPem: string; keyPem: string }): Promise<string>;
}

/** How a device proves itself for its first enrollment (CONTRACT §4). */
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

const RECONNECT = 1;
const RENEW = 2;
const RESUME = 3;

const SUB_OPTS = Object.freeze({ qos: 1 as const });


interface ActiveCredential extends StoredCredential {
  readonly ctx: tls.SecureContext;
}

/**
 * One virtual device, behaving as firmware does:
 *   first boot: no certificate -> new EC P-256 key, CSR, simpleenroll with its bootstrap credential -> saved;
 *   connect: mqtts with its certificate, clientId = device id, subscribe to devices/<id>/commands/#;
 *   online: publish telemetry on each scheduler period (seq + timestamp);
 *   renewal: simplereenroll with a new key when the renewal time comes, then reconnect with the new certificate;
 *   disconnected: retry with exponential backoff and jitter;
 *   refused (CONNACK 5, a TLS alert about its certificate): stop for good; after a kick that means revoked.
 * Per-message work allocates only the payload: handlers are bound once per device.
 */
export class Device implements Tickable {
  schedSlot = -1;
  state: DeviceState = "idle";
  /** Terminal failure reason, or "revoked". */
  failure: string | null = null;
  /** Last transient error seen, for the report when a device never came back. */
  lastError = "";
  /** Highest seq the service subscriber has seen from this device (owned by the observer). */
  lastDeliveredSeq = 0;
  delivered = 0;
  /** Telemetry acknowledged by the gateway, this run. */
  published = 0;
  seq = 0;
  /** CONNACK 0s this run, and when the last one and the last close of an online connection happened. */
  connects = 0;
  onlineAt = NaN;
  offlineAt = NaN;
  renewals = 0;

  private cred: ActiveCredential | null = null;
  private bootstrap: BootstrapAuth | undefined;
  private client: MqttClient | null = null;
  private connectError: Error | undefined;
  private attempt = 0;
  private silentRefusals = 0;
  private wasOnline = false;
  private startReported = false;
  private inflight = 0;
  private stopping = false;
  private handover = false;
  private renewing = false;
  private renewTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private resume: (() => void) | null = null;
  private closeWaiters: (() => void)[] = [];
  private readonly topic: string;
  private readonly cmdTopic: string;

  constructor(readonly id: string, private readonly env: DeviceEnv, initial: { cred?: StoredCredential; bootstrap?: BootstrapAuth }) {
    this.topic = `devices/${id}/telemetry`;
    this.cmdTopic = `devices/${id}/commands/#`;
    this.bootstrap = initial.bootstrap;
    if (initial.cred) this.cred = this.activate(initial.cred);
  }

  get isOnline(): boolean {
    return this.state === "online";
  }

  get hasCredential(): boolean {
    return this.cred !== null;
  }

  get certificatePem(): string | undefined {
    return this.cred?.certPem;
  }

  /** Boots the device: enroll if it has no certificate, then connect. Resolves once that first step is under way. */
  async start(): Promise<void> {
    if (this.state !== "idle") return;
    if (!this.cred) {
      if (!this.bootstrap) return this.terminal("failed", "noCredential");
      const ok = await this.enroll(this.bootstrap);
      if (!ok) return;
    }
    this.connect();
  }

  /** Stop publishing (the run is ending); in-flight messages may still be acknowledged. */
  quiesce(): void {
    this.stopping = true;
    this.env.scheduler.leave(this);
    if (this.renewTimer) this.renewTimer.cancelled = true;
    if (this.retryTimer) this.retryTimer.cancelled = true;
    this.resume?.();
  }

  get unacknowledged(): number {
    return this.inflight;
  }

  /** Disconnects cleanly (DISCONNECT after in-flight acks) and resolves when the connection is closed. */
  close(): Promise<void> {
    this.quiesce();
    const c = this.client;
    if (!c) {
      // A device the run never started stays "idle" (reported as notStarted).
      if (this.state !== "revoked" && this.state !== "failed" && this.state !== "idle") this.state = "stopped";
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.closeWaiters.push(resolve);
      // Online: DISCONNECT once in-flight publishes are acknowledged. Still connecting: just drop the socket.
      c.end(this.state !== "online");
    });
  }

  /** Simulates the network dropping under the device (reconnect-storm): the socket dies without DISCONNECT. */
  dropConnection(): boolean {
    if (this.state !== "online" || !this.client) return false;
    this.client.stream.destroy();
    return true;
  }

  onTimer(kind: number, now: number): void {
    if (kind === PERIODIC) this.publishOne(now);
    else if (kind === RECONNECT) {
      this.retryTimer = null;
      if (!this.stopping) this.connect();
    } else if (kind === RENEW) {
      this.renewTimer = null;
      void this.renew();
    } else if (kind === RESUME) {
      this.retryTimer = null;
      this.resume?.();
    }
  }

  // ---- enrollment (RFC 7030 §4.2.1 / §4.2.2) ----

  /** simpleenroll until it succeeds, is refused, or runs out of attempts. True when the device has a certificate. */
  private async enroll(auth: BootstrapAuth): Promise<boolean> {
    const { env } = this;
    this.state = "enrolling";
    env.stats.enrollStarted(env.clock());
    let key: DeviceKey;
    let csr: Buffer;
    try {
      key = await env.keygen();
      csr = buildDeviceCsr(this.id, key);
    } catch {
      this.terminal("failed", "keygen");
      return false;
    }
    const est = "token" in auth ? { deviceId: this.id, token: auth.token } : { certPem: auth.certPem, keyPem: auth.keyPem };
    let certPem: string | undefined;
    for (let attempt = 1; certPem === undefined; attempt++) {
      try {
        certPem = await env.est.simpleEnroll(csr, est);
      } catch (e) {
        const v = classifyEstFailure(e);
        if (!this.stopping && (!v.retry || attempt >= env.config.enrollAttempts)) {
          this.terminal("failed", `enroll:${v.reason}`);
          return false;
        }
        if (!this.stopping) {
          this.lastError = `enroll:${v.reason}`;
          env.stats.retry(this.lastError);
          await this.sleep(retryDelay(attempt, env.config.backoff, env.random, v.retry ? v.retryAfter : undefined));
        }
        if (this.stopping) {
          this.terminal("stopped", null);
          return false;
        }
      }
    }
    // The token is spent (CONTRACT §4: it works once); forget it.
    this.bootstrap = undefined;
    try {
      const stored = await env.creds.save(this.id, key.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), certPem, env.clock());
      this.cred = this.activate(stored);
    } catch {
      this.terminal("failed", "state:write");
      return false;
    }
    env.stats.enrollDone(env.clock());
    if (this.stopping) {
      this.terminal("stopped", null);
      return false;
    }
    return true;
  }

  private async renew(): Promise<void> {
    const { env } = this;
    if (this.renewing || this.stopping || !this.cred || this.state !== "online") return;
    this.renewing = true;
    const old = this.cred;
    try {
      const key = await env.keygen();
      const csr = buildDeviceCsr(this.id, key);
      const certPem = await env.est.simpleReenroll(csr, { certPem: old.certPem, keyPem: old.keyPem });
      const stored = await env.creds.save(this.id, key.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), certPem, env.clock());
      this.cred = this.activate(stored);
      this.renewals++;
      env.stats.renewed++;
      // Reconnect with the new certificate: stop publishing, let in-flight
      // messages be acknowledged, DISCONNECT, then connect again (onClose).
      if (this.state === "online" && this.client && !this.stopping) {
        this.handover = true;
        env.scheduler.leave(this);
        this.client.end(false);
      }
    } catch (e) {
      if (this.stopping) return;
      const v = classifyEstFailure(e);
      if (v.retry) {
        env.stats.retry(`reenroll:${v.reason}`);
        this.attempt++;
        this.renewTimer = env.scheduler.after(retryDelay(this.attempt, env.config.backoff, env.random, v.retryAfter), this, RENEW);
      } else {
        // The old certificate keeps working until the gateway says otherwise; report and stop renewing.
        env.listener.failed(this, `reenroll:${v.reason}`);
      }
    } finally {
      this.renewing = false;
    }
  }

  private activate(c: StoredCredential): ActiveCredential {
    return { ...c, ctx: secureContextFor(c.keyPem, c.certPem, this.env.config.caPem) };
  }

  // ---- MQTT connection ----

  private connect(): void {
    const { env } = this;
    if (this.stopping || !this.cred) return;
    this.state = "connecting";
    this.connectError = undefined;
    if (!this.wasOnline) env.stats.connectStarted(env.clock());
    const c = env.connector.create(this.id, this.cred.ctx);
    c.on("connect", this.onConnect);
    c.on("error", this.onError);
    c.on("close", this.onClose);
    c.on("message", this.onMessage);
    this.client = c;
  }

  private readonly onConnect = (): void => {
    const { env } = this;
    const now = env.clock();
    this.state = "online";
    this.attempt = 0;
    this.silentRefusals = 0;
    this.connects++;
    this.onlineAt = now;
    env.stats.online++;
    if (!this.wasOnline) {
      this.wasOnline = true;
      env.stats.firstConnectDone(now);
    }
    // [MQTT-3.8.4-1] the SUBACK tells whether the gateway's ACL granted it.
    this.client!.subscribe(this.cmdTopic, SUB_OPTS, this.onSuback);
    env.scheduler.join(this);
    this.publishOne(now);
    if (!this.renewTimer && this.cred) {
      this.renewTimer = env.scheduler.after(renewalTime(this.cred, this.cred.obtainedAt, env.config.renewAt) - now, this, RENEW);
    }
    env.listener.online(this);
    this.reportStarted();
  };

  private readonly onSuback = (err: Error | null, granted?: ISubscriptionGrant[]): void => {
    if (err) return;
    if (granted?.some((g) => g.qos === 0x80)) this.env.listener.failed(this, "subscribe:denied");
  };

  private readonly onError = (err: Error): void => {
    this.connectError = err;
  };

  private readonly onMessage = (): void => {
    this.env.stats.commandsReceived++;
  };

  private readonly onClose = (): void => {
    const { env } = this;
    const c = this.client;
    if (!c) return;
    this.client = null;
    c.removeListener("connect", this.onConnect);
    c.removeListener("close", this.onClose);
    c.removeListener("message", this.onMessage);
    // Fails the callbacks of unacknowledged publishes (they count as unacked) and frees the client.
    c.end(true);
    const wasOnline = this.state === "online";
    if (wasOnline) {
      this.offlineAt = env.clock();
      env.stats.online--;
      env.scheduler.leave(this);
      env.listener.offline(this);
    }
    for (const w of this.closeWaiters.splice(0)) w();
    if (this.stopping) {
      if (this.state !== "revoked" && this.state !== "failed") this.state = "stopped";
      return;
    }
    if (this.handover) {
      this.handover = false;
      this.connect();
      return;
    }
    const v = wasOnline ? { kind: "transient" as const, reason: "dropped" } : classifyConnectFailure(this.connectError);
    if (v.kind === "refused") return this.terminal(this.wasOnline ? "revoked" : "failed", this.wasOnline ? "revoked" : `refused:${v.reason}`);
    if (v.kind === "untrusted") return this.terminal("failed", `connect:${v.reason}`);
    if (this.wasOnline && !wasOnline && isSilentRefusal(v) && ++this.silentRefusals >= SILENT_REFUSALS_AS_REFUSED) return this.terminal("revoked", "revoked");
    this.lastError = `connect:${v.reason}`;
    env.stats.retry(this.lastError);
    this.attempt++;
    this.state = "backoff";
    this.retryTimer = env.scheduler.after(backoffDelay(this.attempt, env.config.backoff, env.random), this, RECONNECT);
  };

  // ---- telemetry ----

  private publishOne(now: number): void {
    const c = this.client;
    if (this.state !== "online" || c === null || this.handover || this.stopping) return;
    const { stats, config } = this.env;
    if (this.inflight >= config.maxInflight) {
      stats.skipped++;
      return;
    }
    this.inflight++;
    stats.inflight++;
    c.publish(this.topic, makePayload(this.id, ++this.seq, now, config.payloadBytes), config.qos === 1 ? PUB_QOS1 : PUB_QOS0, this.onPublished);
  }

  private readonly onPublished = (err?: Error): void => {
    const { stats } = this.env;
    this.inflight--;
    stats.inflight--;
    if (err) {
      stats.unacked++;
      return;
    }
    stats.published++;
    if (++this.published === 1) stats.firstPublishAcked(this.env.clock());
  };

  // ---- helpers ----

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.resume = () => {
        this.resume = null;
        resolve();
      };
      this.retryTimer = this.env.scheduler.after(ms, this, RESUME);
    });
  }

  private reportStarted(): void {
    if (this.startReported) return;
    this.startReported = true;
    this.env.listener.started(this);
  }

  private terminal(state: "failed" | "revoked" | "stopped", reason: string | null): void {
    this.state = state;
    this.failure = reason;
    if (this.renewTimer) this.renewTimer.cancelled = true;
    if (this.retryTimer) this.retryTimer.cancelled = true;
    this.env.scheduler.leave(this);
    if (state !== "stopped") this.env.listener.terminal(this);
    this.reportStarted();
  }
}

const PUB_QOS0 = Object.freeze({ qos: 0 as const });
const PUB_QOS1 = Object.freeze({ qos: 1 as const });
