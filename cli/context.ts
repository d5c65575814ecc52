import type { GatewayConfig } from "../config.js";
import { openDataDir, type DataDir } from "../runtime/datadir.js";

/**
 * Opens an existing data directory for a one-shot CLI command. It never creates
 * one: a directory that is not a gateway's is refused (exit 1).
 */
export async function withDataDir<T>(config: GatewayConfig, fn: (dir: DataDir) => T | Promise<T>): Promise<T> {
  const dir = await openDataDir(config, Date.now);
  try {
    return await fn(dir);
  } finally {
    await dir.store.close();
  }
}
