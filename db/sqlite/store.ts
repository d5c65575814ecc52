import type { Database } from "better-sqlite3";
import { openDatabase } from "./open.js";
import { Devices } from "./devices.js";
import { Certificates } from "./certificates.js";
import { Tokens } from "./tokens.js";
import { Audit } from "./audit.js";
import { RevocationLog } from "./revocations.js";

/**
 * The registry: small typed repositories over one SQLite connection, each with
 * its statements prepared once. Callers group writes with `transaction`.
 */
export class Store {
  readonly devices: Devices;
  readonly certificates: Certificates;
  readonly tokens: Tokens;
  readonly audit: Audit;
  readonly revocations: RevocationLog;

  constructor(readonly db: Database, clock: () => number = Date.now) {
    this.devices = new Devices(db);
    this.certificates = new Certificates(db);
    this.tokens = new Tokens(db);
    this.audit = new Audit(db, clock);
    this.revocations = new RevocationLog(db);
  }

  /** Runs fn in an IMMEDIATE transaction (takes the write lock up front, so no upgrade deadlock across processes). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export function openStore(file: string, clock: () => number = Date.now): Store {
  return new Store(openDatabase(file), clock);
}
