import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import Database from "better-sqlite3";
import { MIGRATIONS, migrate } from "../../db/sqlite/migrations.js";
import { spkiSha256 } from "../../db/spki-hash.js";
import { foreignCa } from "../../testkit/certs.js";

test("migration 3 fills in the SPKI SHA-256 of certificates recorded before it, and leaves unreadable PEMs NULL", () => {
  const db = new Database(":memory:");
  try {
    for (const m of MIGRATIONS.filter((x) => x.version <= 2)) db.exec(m.sql);
    db.pragma("user_version = 2");
    const ca = foreignCa("Migration CA");
    const ins = db.prepare("INSERT INTO certificates(serial, role, name, device_id, not_before, not_after, status, issued_at, pem) VALUES (?, 'service', ?, NULL, 0, 1, 'valid', 0, ?)");
    const creds = Array.from({ length: 1203 }, (_, i) => (i < 3 ? ca.issue(`s${i}`, "service") : undefined));
    for (let i = 0; i < 1203; i++) ins.run(`${i.toString(16).padStart(6, "0")}`, `s${i}`, creds[i]?.certPem ?? "-");
    migrate(db);
    const rows = db.prepare("SELECT serial, spki_sha256 FROM certificates ORDER BY serial").all() as { serial: string; spki_sha256: string | null }[];
    for (let i = 0; i < 3; i++) {
      const want = spkiSha256(new crypto.X509Certificate(creds[i]!.certPem).publicKey.export({ type: "spki", format: "der" }));
      assert.equal(rows[i]!.spki_sha256, want);
    }
    assert.ok(rows.slice(3).every((r) => r.spki_sha256 === null), "every page visited, none failed");
    assert.equal(db.pragma("user_version", { simple: true }), MIGRATIONS.at(-1)!.version);
  } finally {
    db.close();
  }
});
