import { type BackoffPolicy, DEFAULT_BACKOFF } from "./backoff.js";
import { type ConnectorOptions, MqttConnector, type MqttTarget } from "./connector.js";
import { type BootstrapAuth, Device, type DeviceListener, type EstPort } from "./device.js";
import { type DeviceKey, newDeviceKey } from "./device-csr.js";
import { TelemetryObserver } from "./observer.js";
import { type RenewAt, DEFAULT_RENEW_AT, credentialUsability } from "./renewal.js";
import { buildReport, endStateFailures, formatProgress, type SimReport } from "./report.js";
import { Scheduler, type Tickable } from "./scheduler.js";
import type { FleetControl, Scenario } from "./scenarios/scenario.js";
import type { CredentialStore, StoredCredential } from "./state.js";
import { FleetStats } from "./stats.js";

export interface FleetConfig {
  readonly ids: readonly string[];
  readonly concurrency: number;
  /** Telemetry messages per second per device. */
  readonly rate: number;
  /** The run lasts this long once every device has booted (is online or gave up), then drains and reports. */
  readonly durationMs: number;
  /** Longest boot phase: when some devices are still enrolling or connecting after this, the run ends (default 5 min). */
  readonly startTimeoutMs?: number;
  readonly qos: 0 | 1;
  readonly payloadBytes: number;
  readonly mqtt: MqttTarget;
  readonly caPem: string;
  readonly renewAt?: RenewAt;
  readonly backoff?: BackoffPolicy;
  readonly enrollAttempts?: number;
  readonly keepaliveS?: number;
  readonly connectTimeoutMs?: number;
  readonly maxInflight?: number;
  /** Scheduler resolution, ms. */
  readonly tickMs?: number;
  /** Longest wait for acknowledgements and deliveries after the run, ms. */
  readonly drainMs?: number;
}

export interface FleetDeps {
  readonly clock: () => number;
  readonly random: () => number;
  readonly est: EstPort;
  readonly creds: CredentialStore;
  /**
   * Bootstrap credentials for the devices that have no usable certificate
   * (minted from --data, read from --tokens, or a manufacturer credential).
   */
  readonly bootstrap: (ids: readonly string[]) => Promise<Map<string, BootstrapAuth>>;
  readonly keygen?: () => Promise<DeviceKey>;
  /** The `service` credential for the telemetry subscriber; none: delivered and latency are not measured. */
  readonly observer?: { readonly certPem: string; readonly keyPem: string; readonly clientId: string };
  /** One progress line about once a second (stderr in the CLI); omitted: quiet. */
  readonly progress?: (line: string) => void;
  /** Aborting ends the run early; the report is still written (Ctrl-C in the CLI). */
  readonly signal?: AbortSignal;
}

export type { FleetControl, Scenario } from "./scenarios/scenario.js";

export type FleetReport = SimReport & Record<string, unknown>;

const WAIT = 1;
const PROGRESS = 2;
const DEADLINE = 3;

/**
 * Runs N virtual devices: starts them with at most `concurrency` booting at
 * once, measures delivery through a service subscriber, prints progress, ends
 * after the duration and reports (device-sim/README.md).
 */
export class Fleet implements Tickable, DeviceListener {
  schedSlot = -1;
  readonly stats = new FleetStats();
  readonly devices: Device[] = [];
  private readonly scheduler: Scheduler;
  private readonly connector: MqttConnector;
  private readonly connectorOptions: ConnectorOptions;
  private readonly expected = new Set<Device>();
  private readonly offlineHooks: ((d: Device) => void)[] = [];
  private observer: TelemetryObserver | null = null;
  private next = 0;
  private active = 0;
  private startedCount = 0;
  private ended = false;
  private t0 = 0;
  private lastProgress = { at: 0, published: 0 };
  private readonly waiters = new Set<() => void>();
  private deadlineResolve: (() => void) | null = null;
  private waitArmed = false;
  private endRequested = false;

  constructor(private readonly cfg: FleetConfig, private readonly deps: FleetDeps) {
    this.scheduler = new Scheduler({ clock: deps.clock, tickMs: cfg.tickMs ?? 10, periodMs: 1000 / cfg.rate });
    this.connectorOptions = { keepaliveS: cfg.keepaliveS ?? 60, connectTimeoutMs: cfg.connectTimeoutMs ?? 30_000 };
    this.connector = new MqttConnector(cfg.mqtt, this.connectorOptions);
  }

  /** Prepares every device (loads --state, asks for bootstrap credentials where needed) and the subscriber, then runs. */
  async run(scenario?: Scenario): Promise<FleetReport> {
    const { cfg, deps, stats } = this;
    stats.devices = cfg.ids.length;
    const loaded = await this.loadCredentials();
    const need = cfg.ids.filter((id) => !loaded.has(id));
    const boot = need.length > 0 ? await deps.bootstrap(need) : new Map<string, BootstrapAuth>();
    const env = {
      clock: deps.clock, random: deps.random, scheduler: this.scheduler, est: deps.est, creds: deps.creds, stats,
      connector: this.connector, listener: this, keygen: deps.keygen ?? newDeviceKey,
      config: {
        qos: cfg.qos, payloadBytes: cfg.payloadBytes, renewAt: cfg.renewAt ?? DEFAULT_RENEW_AT, backoff: cfg.backoff ?? DEFAULT_BACKOFF,
        enrollAttempts: cfg.enrollAttempts ?? 8, maxInflight: cfg.maxInflight ?? 100, caPem: cfg.caPem,
      },
    };
    for (const id of cfg.ids) {
      const cred = loaded.get(id);
      const bootstrap = boot.get(id);
      const d = new Device(id, env, { ...(cred ? { cred } : {}), ...(bootstrap ? { bootstrap } : {}) });
      this.devices.push(d);
    }
    if (deps.observer) {
      this.observer = new TelemetryObserver({
        target: cfg.mqtt, connector: this.connectorOptions, cred: { ...deps.observer, caPem: cfg.caPem }, clientId: deps.observer.clientId,
        devices: this.devices, stats, clock: deps.clock, onLost: (r) => stats.fail(r),
      });
      await this.observer.start();
    }
    this.t0 = deps.clock();
    stats.runStartedAt = this.t0;
    this.lastProgress = { at: this.t0, published: 0 };
    this.scheduler.start();
    if (deps.progress) this.scheduler.after(1000, this, PROGRESS);
    const deadline = new Promise<void>((resolve) => (this.deadlineResolve = resolve));
    const onAbort = () => this.endNow();
    deps.signal?.addEventListener("abort", onAbort, { once: true });
    this.launch();
    const scenarioResult = scenario ? scenario.run(this.control()).catch((e: unknown) => {
      stats.fail(`${scenario.name}:error`);
      return { error: (e as Error).message };
    }) : Promise.resolve(undefined);
    // --duration counts from the moment the whole fleet is up, so how long booting
    // takes on a slow machine never cuts the telemetry phase short; a boot phase
    // that does not finish within the start timeout ends the run (those devices fail).
    const booted = await this.poll(() => this.startedCount >= this.devices.length || this.endRequested, cfg.startTimeoutMs ?? 300_000);
    if (!booted) this.deadlineResolve?.();
    else if (!this.endRequested) this.scheduler.after(cfg.durationMs, this, DEADLINE);
    await deadline;
    deps.signal?.removeEventListener("abort", onAbort);
    this.ended = true;
    for (const w of [...this.waiters]) w();
    const extra = await scenarioResult;
    // The last progress line shows the fleet as it was when the run ended, before it disconnects.
    this.progressLine(deps.clock());
    await this.drainAndClose();
    return this.finish(scenario, extra);
  }

  // ---- DeviceListener ----

  started(): void {
    this.active--;
    this.startedCount++;
    this.launch();
  }

  online(): void {}

  offline(d: Device): void {
    for (const f of this.offlineHooks) f(d);
  }

  terminal(d: Device): void {
    if (d.failure && !(d.state === "revoked" && this.expected.has(d))) this.stats.fail(d.failure);
  }

  failed(_d: Device, reason: string): void {
    this.stats.fail(reason);
  }

  // ---- Tickable ----

  onTimer(kind: number, now: number): void {
    if (kind === PROGRESS) {
      if (this.ended) return;
      this.progressLine(now);
      this.scheduler.after(1000, this, PROGRESS);
    } else if (kind === DEADLINE) {
      this.deadlineResolve?.();
    } else if (kind === WAIT) {
      this.waitArmed = false;
      for (const w of [...this.waiters]) w();
    }
  }

  private launch(): void {
    while (!this.ended && this.active < this.cfg.concurrency && this.next < this.devices.length) {
      const d = this.devices[this.next++]!;
      this.active++;
      d.start().catch(() => undefined);
    }
  }

  private async loadCredentials(): Promise<Map<string, StoredCredential>> {
    const out = new Map<string, StoredCredential>();
    const ids = this.cfg.ids;
    let i = 0;
    const now = this.deps.clock();
    const worker = async () => {
      while (i < ids.length) {
        const id = ids[i++]!;
        const r = await this.deps.creds.load(id);
        // An expired certificate cannot authorize simplereenroll: the device boots as new.
        if (r.kind === "ok" && credentialUsability(r.cred, now) === "valid") out.set(id, r.cred);
        else if (r.kind === "corrupt") this.stats.retry("state:corrupt");
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, ids.length) }, worker));
    return out;
  }

  private progressLine(now: number): void {
    const { stats } = this;
    const dt = (now - this.lastProgress.at) / 1000;
    const rate = dt > 0 ? (stats.published - this.lastProgress.published) / dt : 0;
    this.lastProgress = { at: now, published: stats.published };
    const p99 = stats.window.totalCount > 0 ? stats.window.getValueAtPercentile(99) / 1000 : null;
    stats.window.reset();
    let retries = 0;
    for (const v of stats.retries.values()) retries += v;
    this.deps.progress?.(formatProgress({
      elapsedMs: now - this.t0, devices: stats.devices, enrolled: stats.enrolled, online: stats.online, connected: stats.connected,
      msgsPerSec: rate, delivered: this.observer ? stats.delivered : null, p99Ms: p99, failures: stats.failureCount(), retries,
    }));
  }

  /** Stops publishing, waits for acknowledgements and deliveries (bounded), then disconnects everyone. */
  private async drainAndClose(): Promise<void> {
    const { stats } = this;
    const drainMs = this.cfg.drainMs ?? 10_000;
    for (const d of this.devices) d.quiesce();
    await this.poll(() => stats.inflight === 0 && this.active === 0, drainMs);
    if (this.observer) {
      // Deliveries trail acknowledgements by a moment; wait until every acknowledged message arrived or nothing moves for 2 s.
      let last = -1;
      let still = this.deps.clock();
      await this.poll(() => {
        if (stats.delivered !== last) {
          last = stats.delivered;
          still = this.deps.clock();
        }
        return this.devices.every((d) => d.delivered >= d.published) || this.deps.clock() - still > 2000;
      }, drainMs);
    }
    await Promise.race([Promise.all(this.devices.map((d) => d.close())), this.sleepMs(drainMs)]);
    await this.observer?.close();
    this.scheduler.stop();
    this.waiters.clear();
  }

  private finish(scenario: Scenario | undefined, extra: Record<string, unknown> | undefined): FleetReport {
    const { stats } = this;
    for (const [reason, n] of endStateFailures(this.devices, this.observer !== null && this.cfg.qos === 1)) {
      stats.failures.set(reason, (stats.failures.get(reason) ?? 0) + n);
    }
    const report: FleetReport = { ...buildReport({
      devices: stats.devices, enrolled: stats.enrolled, connected: stats.connected, published: stats.published,
      delivered: this.observer ? stats.delivered : null, failures: stats.failures,
      enrollSpanMs: stats.enrollLastDone - stats.enrollFirstStart, connectSpanMs: stats.connectLastDone - stats.connectFirstStart,
      latency: this.observer ? stats.latency : null,
    }) };
    if (scenario && extra) report[scenarioKey(scenario.name)] = extra;
    stats.destroy();
    return report;
  }

  private control(): FleetControl {
    return {
      devices: this.devices,
      stats: this.stats,
      clock: this.deps.clock,
      periodMs: 1000 / this.cfg.rate,
      allStarted: () => this.poll(() => this.startedCount >= this.devices.length, Number.POSITIVE_INFINITY),
      wait: async (ms) => {
        const until = this.deps.clock() + ms;
        return this.poll(() => this.deps.clock() >= until, Number.POSITIVE_INFINITY);
      },
      waitFor: (cond, timeoutMs) => this.poll(cond, timeoutMs),
      fail: (r) => this.stats.fail(r),
      expectRevoked: (d) => this.expected.add(d),
      onOffline: (fn) => this.offlineHooks.push(fn),
      end: () => this.endNow(),
    };
  }

  /** Checks cond on the shared tick; false when timeoutMs passes or (while running) the run ends. */
  private poll(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const endsWithRun = !this.ended;
    const until = this.deps.clock() + timeoutMs;
    return new Promise<boolean>((resolve) => {
      const check = () => {
        if (cond()) return done(true);
        if ((endsWithRun && this.ended) || this.deps.clock() >= until) return done(false);
        this.armWait();
      };
      const done = (v: boolean) => {
        this.waiters.delete(check);
        resolve(v);
      };
      this.waiters.add(check);
      check();
    });
  }

  private endNow(): void {
    this.endRequested = true;
    this.deadlineResolve?.();
  }

  /** One pending WAIT timer serves every poller. */
  private armWait(): void {
    if (this.waitArmed) return;
    this.waitArmed = true;
    this.scheduler.after(20, this, WAIT);
  }

  private sleepMs(ms: number): Promise<void> {
    return this.poll(() => false, ms).then(() => undefined);
  }
}

/** "revoke-drill" -> "revokeDrill": the report's key for a scenario's own figures. */
export function scenarioKey(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}
