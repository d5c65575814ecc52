import type { Store } from "../db/store.js";
import type { GatewayEvents } from "../runtime/deps.js";
import type { Logger } from "../log.js";

/** A revocation to enforce on live sessions: a whole device, or single certificates. */
export interface RevocationNotice {
  readonly deviceId: string | null;
  /** Serials revoked ("*" entries dropped); for a device, its sessions are closed whatever they present. */
  readonly serials: readonly string[];
  readonly source: "event" | "log";
}

/**
 * Learns about revocations from two sources and hands them to `onRevoked`:
 *  - the in-process `revoked` event (immediate, same process: admin API);
 *  - the revocation log in SQLite, which every process appends to in the same
 *    transaction as the revocation. Followed with ONE indexed query per tick
 *    (never one per connection), starting from the head at boot, so a revocation
 *    by the CLI or another gateway process reaches this broker within a tick.
 * A revocation seen through both sources is enforced twice; that is harmless.
 */
export class RevocationFollower {
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private reading: Promise<void> | undefined;
  private readonly onEvent = (e: { deviceId: string | null; serials: string[] }) =>
    this.onRevoked({ deviceId: e.deviceId, serials: e.serials, source: "event" });

  constructor(
    private readonly d: { store: Store; events: GatewayEvents; log: Logger },
    private readonly onRevoked: (n: RevocationNotice) => void,
    private readonly intervalMs = 100,
    /** Told when the log becomes unreadable (false) and readable again (true): caches keyed on it must not be trusted meanwhile. */
    private readonly onHealth: (readable: boolean) => void = () => {},
  ) {}

  async start(): Promise<void> {
    this.seq = await this.d.store.revocations.head();
    this.d.events.on("revoked", this.onEvent);
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /**
   * One query; groups the new entries per device so each device is enforced once per tick.
   * Never rejects. A tick due while the previous one still reads joins it (no entry is read twice).
   */
  tick(): Promise<void> {
    return (this.reading ??= this.read().finally(() => {
      this.reading = undefined;
    }));
  }

  private async read(): Promise<void> {
    let entries;
    try {
      entries = await this.d.store.revocations.since(this.seq);
      if (this.failing) {
        this.d.log.info("revocation log readable again");
        this.onHealth(true);
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) {
        this.d.log.error({ err, code: "FG_INTERNAL" }, "cannot read the revocation log; retrying every tick");
        this.onHealth(false);
      }
      this.failing = true;
      return;
    }
    if (entries.length === 0) return;
    this.seq = entries[entries.length - 1]!.seq;
    const byDevice = new Map<string | null, string[]>();
    for (const e of entries) {
      const list = byDevice.get(e.deviceId) ?? [];
      if (e.serial !== "*") list.push(e.serial);
      byDevice.set(e.deviceId, list);
    }
    for (const [deviceId, serials] of byDevice) this.onRevoked({ deviceId, serials, source: "log" });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.d.events.off("revoked", this.onEvent);
  }
}
