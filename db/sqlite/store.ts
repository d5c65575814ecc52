import type { Database } from "better-sqlite3";
import type { Repositories, Store, StoreTx } from "../store.js";
import { openDatabase } from "./open.js";
import { Devices } from "./devices.js";
import { Certificates } from "./certificates.js";
import { Tokens } from "./tokens.js";
import { Audit } from "./audit.js";
import { RevocationLog } from "./revocations.js";
import { Gate } from "./gate.js";

/** The better-sqlite3 repositories, synchronous: statements prepared once on one connection. */
export interface SyncRepositories {
  readonly devices: Devices;
  readonly certificates: Certificates;
  readonly tokens: Tokens;
  readonly audit: Audit;
  readonly revocations: RevocationLog;
}

/** A synchronous repository seen through the Promise-based interface. */
type Async<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<R> : never };

const methodsOf = (o: object): string[] => Object.getOwnPropertyNames(Object.getPrototypeOf(o)).filter((m) => m !== "constructor");

/** Each method of `repo` as a Promise-returning call made through `call` (which may run it at once or queue it). */
function asyncView<T extends object>(repo: T, call: <R>(f: () => R) => Promise<R>): Async<T> {
  const view: Record<string, unknown> = {};
  for (const m of methodsOf(repo)) {
    const f = (repo as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(repo);
    view[m] = (...a: unknown[]) => call(() => f(...a));
  }
  return view as Async<T>;
}

function settle<R>(f: () => R): Promise<R> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * The registry on better-sqlite3 (README "Registry interface"). Every call runs
 * synchronously and returns a settled Promise. A transaction is BEGIN IMMEDIATE,
 * `await fn(tx)`, COMMIT (ROLLBACK on rejection); since better-sqlite3 has one
 * connection per store, a Gate serializes transactions, and any call made on the
 * store itself while a transaction is open or queued waits until it ends, so no
 * other request's read or write lands inside it (or sees its uncommitted rows).
 * With nothing open, calls go straight through: the common path costs one
 * resolved Promise. Across processes, SQLite's own write lock (busy_timeout)
 * serializes the IMMEDIATE transactions as before.
 */
export class SqliteStore implements Store {
  /** The synchronous repositories (tests and the SQLite backend itself; product code uses the interface). */
  readonly sync: SyncRepositories;
  readonly devices: Store["devices"];
  readonly certificates: Store["certificates"];
  readonly tokens: Store["tokens"];
  readonly audit: Store["audit"];
  readonly revocations: Store["revocations"];
  private readonly tx: StoreTx;
  private readonly gate = new Gate();
  private inTx = false;
  private readonly direct: <R>(f: () => R) => Promise<R>;

  constructor(readonly db: Database, clock: () => number = Date.now) {
    this.sync = { devices: new Devices(db), certificates: new Certificates(db), tokens: new Tokens(db), audit: new Audit(db, clock), revocations: new RevocationLog(db) };
    const direct = <R>(f: () => R): Promise<R> => (this.gate.busy ? this.gate.run(() => settle(f)) : settle(f));
    this.direct = direct;
    const inTx = <R>(f: () => R): Promise<R> => (this.inTx ? settle(f) : Promise.reject(new Error("registry transaction already ended")));
    const views = (call: <R>(f: () => R) => Promise<R>): Repositories => ({
      devices: asyncView(this.sync.devices, call),
      certificates: asyncView(this.sync.certificates, call),
      tokens: asyncView(this.sync.tokens, call),
      audit: asyncView(this.sync.audit, call),
      revocations: asyncView(this.sync.revocations, call),
    });
    ({ devices: this.devices, certificates: this.certificates, tokens: this.tokens, audit: this.audit, revocations: this.revocations } = views(direct));
    this.tx = views(inTx);
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.gate.run(async () => {
      this.db.exec("BEGIN IMMEDIATE");
      this.inTx = true;
      try {
        const r = await fn(this.tx);
        this.db.exec("COMMIT");
        return r;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw e;
      } finally {
        this.inTx = false;
      }
    });
  }

  /** `SELECT 1` on the connection, queued like any other call; rejects once the store is closed. */
  ping(): Promise<void> {
    return this.direct(() => {
      this.db.prepare("SELECT 1").get();
    });
  }

  /** Closes once every queued call has run. */
  close(): Promise<void> {
    const shut = () => {
      if (this.db.open) this.db.close();
    };
    if (!this.gate.busy) return settle(shut);
    return this.gate.run(() => settle(shut));
  }
}

/** Opens (creating and migrating if needed) a SQLite registry. */
export function openSqliteStore(file: string, clock: () => number = Date.now): SqliteStore {
  return new SqliteStore(openDatabase(file), clock);
}
