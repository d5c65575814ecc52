import type { Store } from "./store.js";
import { openSqliteStore } from "./sqlite/store.js";

/** Opens the registry: the SQLite backend (db/sqlite/), the only one so far. */
export function openStore(file: string, clock: () => number = Date.now): Store {
  return openSqliteStore(file, clock);
}
