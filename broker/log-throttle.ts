import type { Logger } from "../log.js";

/**
 * Rate-limited logging for events a misbehaving or hostile client can trigger at
 * wire speed (denied publishes, rate-limit drops, failed handshakes): at most
 * `perWindow` lines per key per window; the next line after a quiet spell says
 * how many were suppressed.
 */
export class LogThrottle {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(private readonly log: Logger, private readonly clock: () => number, private readonly perWindow = 5, private readonly windowMs = 1000) {}

  info(key: string, obj: Record<string, unknown>, msg: string): void {
    this.emit("info", key, obj, msg);
  }

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    this.emit("warn", key, obj, msg);
  }

  private emit(level: "info" | "warn", key: string, obj: Record<string, unknown>, msg: string): void {
    const now = this.clock();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      if (!w && this.windows.size > 1000) this.windows.clear();
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(key, w);
      if (suppressed > 0) obj = { ...obj, suppressed };
    }
    if (w.count >= this.perWindow) {
      w.suppressed++;
      return;
    }
    w.count++;
    this.log[level](obj, msg);
  }
}
