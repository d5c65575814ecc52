import type { Store } from "./store.js";
import { openSqliteStore } from "./sqlite/store.js";
import { openPgStore } from "./postgres/store.js";

/** Opens a SQLite registry file (db/sqlite/): the embedded default, and what tests set up rows through. */
export function openStore(file: string, clock: () => number = Date.now): Store {
  return openSqliteStore(file, clock);
}

/**
 * Opens the configured registry: PostgreSQL (db/postgres/) when `database` is a
 * postgres:// or postgresql:// URL, otherwise the SQLite file. The URL was
 * validated by config.ts; anything else here is a programming error.
 */
export async function openRegistry(where: { database: string | undefined; file: string }, clock: () => number = Date.now): Promise<Store> {
  if (where.database === undefined) return openStore(where.file, clock);
  if (!/^postgres(ql)?:\/\//.test(where.database)) throw new Error("registry URL must be postgres:// or postgresql://");
  return openPgStore(where.database, clock);
}
