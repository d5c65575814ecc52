import type { GatewayConfig } from "../config.js";
import { createLogger } from "../log.js";
import { openDataDir, type DataDir } from "../datadir.js";

/** Opens the data directory for a one-shot CLI command; logs go to stderr so stdout stays machine-readable. */
export async function withDataDir<T>(config: GatewayConfig, fn: (dir: DataDir) => T | Promise<T>): Promise<T> {
  const log = createLogger({ level: config.logLevel === "info" ? "warn" : config.logLevel, destination: 2 });
  const dir = openDataDir(config, log, Date.now);
  try {
    return await fn(dir);
  } finally {
    dir.store.close();
  }
}
