import pg from "pg";
import type { Repositories, Store, StoreTx } from "../store.js";
import { LOCK_WRITE, migratePg } from "./migrations.js";
import { registryTypes, type Queryable } from "./query.js";
import { PgDevices } from "./devices.js";
import { PgCertificates } from "./certificates.js";
import { PgTokens } from "./tokens.js";
import { PgAudit } from "./audit.js";
import { PgRevocations } from "./revocations.js";

type Batch = <T>(fn: (q: Queryable) => Promise<T>) => Promise<T>;

function repositories(q: Queryable, batch: Batch, clock: () => number): Repositories {
  return { devices: new PgDevices(q, batch), certificates: new PgCertificates(q), tokens: new PgTokens(q), audit: new PgAudit(q, clock), revocations: new PgRevocations(q) };
}

/** A client that refuses statements once its transaction has settled (a StoreTx is valid only until then). */
function scoped(c: pg.PoolClient): { q: Queryable; end(): void } {
  let open = true;
  return {
    q: { query: (text: string, values?: unknown[]) => (open ? c.query(text, values) : Promise.reject(new Error("registry transaction already ended"))) } as Queryable,
    end: () => {
      open = false;
    },
  };
}

/**
 * The registry on PostgreSQL (README "Architecture", db/postgres). Calls on the
 * store run on any pooled connection. A transaction takes one pooled client:
 * BEGIN, a transaction-scoped advisory lock that serializes registry write
 * transactions across every node (the same guarantee as SQLite's BEGIN
 * IMMEDIATE, so enrollment's read-then-write re-checks stay race-free), fn,
 * then COMMIT, or ROLLBACK when fn rejects.
 */
export class PgStore implements Store {
  readonly devices: Store["devices"];
  readonly certificates: Store["certificates"];
  readonly tokens: Store["tokens"];
  readonly audit: Store["audit"];
  readonly revocations: Store["revocations"];

  constructor(private readonly pool: pg.Pool, private readonly clock: () => number = Date.now) {
    ({ devices: this.devices, certificates: this.certificates, tokens: this.tokens, audit: this.audit, revocations: this.revocations } =
      // A presence batch takes the write lock too (as SQLite's does): it never deadlocks with a revocation on the same rows.
      repositories(pool, (fn) => this.onClient(fn, true), clock));
  }

  /** fn on one client between BEGIN and COMMIT (ROLLBACK on rejection); `lock` takes the registry write lock first. */
  private async onClient<T>(fn: (q: Queryable) => Promise<T>, lock = false): Promise<T> {
    const c = await this.pool.connect();
    const s = scoped(c);
    // A client whose BEGIN, COMMIT or ROLLBACK failed is in an unknown state: it is destroyed, not reused.
    let broken = true;
    try {
      await c.query("BEGIN");
      let r: T;
      try {
        if (lock) await c.query("SELECT pg_advisory_xact_lock($1)", [LOCK_WRITE]);
        r = await fn(s.q);
      } catch (e) {
        s.end();
        // fn's error is the one that matters; a failed ROLLBACK only marks the client broken.
        await c.query("ROLLBACK").then(() => (broken = false), () => undefined);
        throw e;
      }
      s.end();
      await c.query("COMMIT");
      broken = false;
      return r;
    } finally {
      s.end();
      c.release(broken);
    }
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.onClient((q) => fn(repositories(q, (f) => f(q), this.clock)), true);
  }

  /** `SELECT 1` on a pooled connection: the server answers (readiness, README "Metrics"). */
  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Opens a PostgreSQL registry at `url` (postgres:// or postgresql://), migrating it if needed. */
export async function openPgStore(url: string, clock: () => number = Date.now): Promise<PgStore> {
  const pool = new pg.Pool({ connectionString: url, max: 10, types: registryTypes, application_name: "fleetgate" });
  // An idle client's connection error (server restart) must not crash the process: the next query reconnects.
  pool.on("error", () => undefined);
  try {
    await migratePg(pool);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return new PgStore(pool, clock);
}
