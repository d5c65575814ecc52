import type { Store } from "../db/store.js";
import { SqliteStore } from "../db/sqlite/store.js";

/**
 * The SQLite store behind a Store, for tests that set up or inspect rows
 * synchronously (`sq(store).sync.devices.get(id)`). Product code sees only the interface.
 */
export function sq(store: Store): SqliteStore {
  if (!(store instanceof SqliteStore)) throw new Error("this test needs the SQLite registry");
  return store;
}
