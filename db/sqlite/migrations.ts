import type { Database } from "better-sqlite3";
import { spkiSha256OfCertPem } from "../spki-hash.js";

/**
 * Versioned migrations, applied in order inside one transaction each.
 * PRAGMA user_version records the last applied version. Never edit a released
 * migration: add a new one.
 */
export const MIGRATIONS: readonly { version: number; sql: string; run?: (db: Database) => void }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE devices (
  id                TEXT PRIMARY KEY,
  status            TEXT NOT NULL CHECK (status IN ('active','revoked')),
  created_at        INTEGER NOT NULL,
  last_seen         INTEGER,
  online            INTEGER NOT NULL DEFAULT 0,
  revoked_at        INTEGER,
  revocation_reason TEXT
) STRICT;

CREATE TABLE certificates (
  serial            TEXT PRIMARY KEY,
  role              TEXT NOT NULL CHECK (role IN ('device','service','admin')),
  name              TEXT NOT NULL,
  device_id         TEXT REFERENCES devices(id),
  not_before        INTEGER NOT NULL,
  not_after         INTEGER NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('valid','revoked')),
  revocation_reason TEXT,
  revoked_at        INTEGER,
  issued_at         INTEGER NOT NULL,
  pem               TEXT NOT NULL
) STRICT;
CREATE INDEX certificates_device ON certificates(device_id, not_after);
CREATE INDEX certificates_revoked ON certificates(status, not_after);

-- Only a SHA-256 of each token is stored; the token itself is shown once.
CREATE TABLE tokens (
  hash        TEXT PRIMARY KEY,
  device_id   TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
) STRICT;
CREATE INDEX tokens_device ON tokens(device_id);

CREATE TABLE audit_events (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,
  type      TEXT NOT NULL,
  actor     TEXT,
  device_id TEXT,
  serial    TEXT,
  code      TEXT,
  detail    TEXT
) STRICT;
CREATE INDEX audit_device ON audit_events(device_id, id);
-- The audit trail is append-only, enforced by the database itself.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

-- Every revocation appends here. Each gateway process follows this log to kick
-- live sessions, whichever process (CLI, admin API, another gateway) revoked.
CREATE TABLE revocation_log (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT,
  serial    TEXT NOT NULL,
  at        INTEGER NOT NULL
) STRICT;

CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
INSERT INTO counters(name, value) VALUES ('crl_number', 0);
`,
  },
  {
    // The broker writes connect/disconnect events in batches, after the fact:
    // the trail is read in event-time order, so index that order.
    version: 2,
    sql: `
CREATE INDEX audit_at ON audit_events(at, id);
CREATE INDEX audit_device_at ON audit_events(device_id, at, id);
`,
  },
  {
    // The certificate a token enrolled, so that a retry of that same enrollment
    // (same token, same key) is answered with it again instead of a refusal.
    version: 3,
    sql: `
ALTER TABLE tokens ADD COLUMN issued_serial TEXT;
`,
  },
  {
    // One name space for devices and credentials: find a service/admin credential
    // by name quickly (every CONNECT and every token creation asks), and mark the
    // tokens that may re-provision a device that already holds a valid certificate.
    version: 4,
    sql: `
CREATE INDEX certificates_credential_name ON certificates(name) WHERE device_id IS NULL;
ALTER TABLE tokens ADD COLUMN reprovision INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    // GET /api/v1/audit?type=...: security events stay findable however many presence rows follow them.
    version: 5,
    sql: `
CREATE INDEX audit_type_at ON audit_events(type, at, id);
`,
  },
  {
    // One public key, one identity: the SHA-256 of each certificate's
    // SubjectPublicKeyInfo, indexed, so enrollment can refuse a key already
    // certified for another identity. Existing rows are filled in from their PEM.
    version: 6,
    sql: `
ALTER TABLE certificates ADD COLUMN spki_sha256 TEXT;
CREATE INDEX certificates_spki ON certificates(spki_sha256);
`,
    run: (db) => {
      const upd = db.prepare("UPDATE certificates SET spki_sha256 = ? WHERE serial = ?");
      const page = db.prepare<[string], { serial: string; pem: string }>("SELECT serial, pem FROM certificates WHERE serial > ? ORDER BY serial LIMIT 500");
      for (let after = "", rows = page.all(after); rows.length > 0; after = rows.at(-1)!.serial, rows = page.all(after)) {
        for (const r of rows) upd.run(spkiSha256OfCertPem(r.pem), r.serial);
      }
    },
  },
];

export function migrate(db: Database): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  const latest = MIGRATIONS.at(-1)!.version;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this gateway (${latest}); refusing to touch it`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      m.run?.(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return latest;
}
