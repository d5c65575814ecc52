import { GatewayError } from "../errors.js";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Parses "90", "45s", "15m", "24h", "7d", "2w" into whole seconds. */
export function parseDuration(text: string, what = "duration"): number {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(text.trim());
  if (!m) throw new GatewayError("FG_USAGE", `${what} must look like 90, 45s, 15m, 24h or 7d (got ${JSON.stringify(text)})`);
  const secs = Number(m[1]) * UNITS[m[2] || "s"]!;
  if (secs <= 0) throw new GatewayError("FG_USAGE", `${what} must be positive`);
  return secs;
}
