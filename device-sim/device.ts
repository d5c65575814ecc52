import type tls from "node:tls";
import type { MqttClient, ISubscriptionGrant } from "mqtt";
import { backoffDelay, retryDelay } from "./backoff.js";
import type { BootstrapAuth, DeviceEnv, DeviceState } from "./device-env.js";
import { enrollFirst, reenroll } from "./enrollment-flow.js";
import { afterClose, classifyEstFailure } from "./failure-policy.js";
import { renewalTime } from "./renewal.js";
import { PERIODIC, type Tickable, type TimerHandle } from "./scheduler.js";
import type { StoredCredential } from "./state.js";
import { makePayload } from "./telemetry.js";
import { type TlsSessionSlot, secureContextFor } from "./connector.js";

export type { BootstrapAuth, DeviceConfig, DeviceEnv, DeviceListener, DeviceState, EstPort } from "./device-env.js";

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
  /** Connections that resumed the previous TLS session instead of a full handshake. */
  resumedConnects = 0;

  private cred: ActiveCredential | null = null;
  private bootstrap: BootstrapAuth | undefined;
  private client: MqttClient | null = null;
  private connectError: Error | undefined;
  private attempt = 0;
  private renewAttempt = 0;
  private silentRefusals = 0;
  private everOnline = false;
  private startReported = false;
  private inflight = 0;
  /** The run is ending (read by the enrollment flow too). */
  stopping = false;
  private handover = false;
  private renewing = false;
  private renewTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private resume: (() => void) | null = null;
  private closeWaiters: (() => void)[] = [];
  private readonly tls: TlsSessionSlot = { session: undefined };
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

  /** First boot: simpleenroll with the bootstrap credential. True when the device has a certificate. */
  private async enroll(auth: BootstrapAuth): Promise<boolean> {
    const { env } = this;
    this.state = "enrolling";
    env.stats.enrollStarted(env.clock());
    const r = await enrollFirst(env, this.id, auth, this, (reason) => {
      this.lastError = reason;
      env.stats.retry(reason);
    });
    if (r.kind === "failed") return this.terminal("failed", r.reason), false;
    if (r.kind === "stopped") return this.terminal("stopped", null), false;
    // The token is spent (README "EST enrollment": it works once); forget it.
    this.bootstrap = undefined;
    this.cred = this.activate(r.cred);
    env.stats.enrollDone(env.clock());
    if (this.stopping) return this.terminal("stopped", null), false;
    return true;
  }

  /** Renewal: simplereenroll, then reconnect with the new certificate. */
  private async renew(): Promise<void> {
    const { env } = this;
    if (this.renewing || this.stopping || !this.cred || this.state !== "online") return;
    this.renewing = true;
    try {
      this.cred = this.activate(await reenroll(env, this.id, this.cred));
      this.renewals++;
      this.renewAttempt = 0;
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
        this.renewTimer = env.scheduler.after(retryDelay(++this.renewAttempt, env.config.backoff, env.random, v.retryAfter), this, RENEW);
      } else {
        // The old certificate keeps working until the gateway says otherwise; report and stop renewing.
        env.listener.failed(this, `reenroll:${v.reason}`);
      }
    } finally {
      this.renewing = false;
    }
  }

  private activate(c: StoredCredential): ActiveCredential {
    // A session resumed with a new certificate would still be the old identity.
    this.tls.session = undefined;
    return { ...c, ctx: secureContextFor(c.keyPem, c.certPem, this.env.config.caPem) };
  }

  // ---- MQTT connection ----

  private connect(): void {
    const { env } = this;
    if (this.stopping || !this.cred) return;
    this.state = "connecting";
    this.connectError = undefined;
    if (!this.everOnline) env.stats.connectStarted(env.clock());
    const c = env.connector.create(this.id, this.cred.ctx, this.tls);
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
    if ((this.client!.stream as tls.TLSSocket).isSessionReused()) this.resumedConnects++;
    this.onlineAt = now;
    env.stats.online++;
    if (!this.everOnline) {
      this.everOnline = true;
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
    const { decision, silentRefusals } = afterClose({ wasOnline, everOnline: this.everOnline, error: this.connectError, silentRefusals: this.silentRefusals });
    this.silentRefusals = silentRefusals;
    if (decision.kind === "stop") return this.terminal(decision.state, decision.reason);
    this.lastError = decision.reason === "dropped" ? "connect:dropped" : decision.reason;
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

  sleep(ms: number): Promise<void> {
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
