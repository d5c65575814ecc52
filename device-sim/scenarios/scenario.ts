import type { Device } from "../device.js";
import type { FleetStats } from "../stats.js";

/** What a scenario may do to a running fleet. */
export interface FleetControl {
  readonly devices: readonly Device[];
  readonly stats: FleetStats;
  readonly clock: () => number;
  /** Telemetry period of every device, ms (1000 / --rate). */
  readonly periodMs: number;
  /** Resolves when every device is online or has given up; false if the run ended first. */
  allStarted(): Promise<boolean>;
  /** Resolves after ms, or early (false) when the run ends. */
  wait(ms: number): Promise<boolean>;
  /** Polls cond every tick until true (resolves true) or timeoutMs / the end of the run (false). */
  waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean>;
  /** Marks a failure of the scenario itself (makes the exit status 1). */
  fail(reason: string): void;
  /** Devices whose revocation is the point of the scenario: their refusal is not a failure. */
  expectRevoked(d: Device): void;
  /** Called with every device that goes offline. */
  onOffline(fn: (d: Device) => void): void;
  /** Ends the run now instead of at the end of the duration (benchmarks that stop at a milestone). */
  end(): void;
}

export interface Scenario {
  readonly name: string;
  /** Runs alongside the telemetry phase; what it returns is added to the report under its name. */
  run(ctl: FleetControl): Promise<Record<string, unknown> | undefined>;
}
