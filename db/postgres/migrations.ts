import type pg from "pg";

/**
 * Versioned migrations for the PostgreSQL registry: the same tables, indexes and
 * guarantees as db/sqlite/migrations.ts (at its version 6), as one first version.
 * schema_version records what was applied; each migration runs in its own
 * transaction under an advisory lock, so nodes starting together migrate once.
 * Never edit a released migration: add a new one.
 *
 * Text keys are COLLATE "C" so that ordering and prefix ranges compare bytes,
 * as SQLite does, whatever the database's default collation.
 */
export const PG_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE devices (
  id                TEXT COLLATE "C" PRIMARY KEY,
  status            TEXT NOT NULL CHECK (status IN ('active','revoked')),
  created_at        BIGINT NOT NULL,
  last_seen         BIGINT,
  online            BOOLEAN NOT NULL DEFAULT FALSE,
  revoked_at        BIGINT,
  revocation_reason TEXT
);

CREATE TABLE certificates (
  serial            TEXT COLLATE "C" PRIMARY KEY,
  role              TEXT NOT NULL CHECK (role IN ('device','service','admin')),
  name              TEXT COLLATE "C" NOT NULL,
  device_id         TEXT COLLATE "C" REFERENCES devices(id),
  not_before        BIGINT NOT NULL,
  not_after         BIGINT NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('valid','revoked')),
  revocation_reason TEXT,
  revoked_at        BIGINT,
  issued_at         BIGINT NOT NULL,
  pem               TEXT NOT NULL,
  spki_sha256       TEXT
);
CREATE INDEX certificates_device ON certificates(device_id, not_after);
CREATE INDEX certificates_revoked ON certificates(status, not_after);
CREATE INDEX certificates_credential_name ON certificates(name) WHERE device_id IS NULL;
CREATE INDEX certificates_spki ON certificates(spki_sha256);

-- Only a SHA-256 of each token is stored; the token itself is shown once.
CREATE TABLE tokens (
  hash          TEXT PRIMARY KEY,
  device_id     TEXT COLLATE "C" NOT NULL,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  used_at       BIGINT,
  issued_serial TEXT,
  reprovision   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX tokens_device ON tokens(device_id);

CREATE TABLE audit_events (
  id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at        BIGINT NOT NULL,
  type      TEXT NOT NULL,
  actor     TEXT,
  device_id TEXT COLLATE "C",
  serial    TEXT,
  code      TEXT,
  detail    TEXT
);
CREATE INDEX audit_device ON audit_events(device_id, id);
CREATE INDEX audit_at ON audit_events(at, id);
CREATE INDEX audit_device_at ON audit_events(device_id, at, id);
CREATE INDEX audit_type_at ON audit_events(type, at, id);
-- The audit trail is append-only, enforced by the database itself: every
-- path that changes or removes rows (UPDATE, DELETE, TRUNCATE) is refused.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- Every revocation appends here; each gateway process follows this log.
CREATE TABLE revocation_log (
  seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id TEXT,
  serial    TEXT NOT NULL,
  at        BIGINT NOT NULL
);

CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO counters(name, value) VALUES ('crl_number', 0);
`,
  },
];

/** Advisory lock keys (pg_advisory_xact_lock): one for migrations, one for write transactions. */
export const LOCK_MIGRATE = 0x66670d01;
export const LOCK_WRITE = 0x66670d02;

/** Applies the missing migrations; returns the schema version. Refuses a schema newer than this gateway. */
export async function migratePg(pool: pg.Pool): Promise<number> {
  const latest = PG_MIGRATIONS.at(-1)!.version;
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    try {
      await c.query("SELECT pg_advisory_xact_lock($1)", [LOCK_MIGRATE]);
      await c.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at BIGINT NOT NULL)");
      const r = await c.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_version");
      const current = r.rows[0]?.v ?? 0;
      if (current > latest) throw new Error(`database schema version ${current} is newer than this gateway (${latest}); refusing to touch it`);
      for (const m of PG_MIGRATIONS) {
        if (m.version <= current) continue;
        await c.query(m.sql);
        await c.query("INSERT INTO schema_version(version, applied_at) VALUES ($1, $2)", [m.version, Date.now()]);
      }
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  } finally {
    c.release();
  }
  return latest;
}
