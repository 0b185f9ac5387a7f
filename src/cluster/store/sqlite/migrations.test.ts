/** The migration runner on databases in memory: order, all-or-nothing, and refusing the future. */
import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { isEtherplaneError } from "../../../foundation/errors.js";
import { uniqueKeyOf } from "./constraint-errors.js";
import { MIGRATIONS, SCHEMA_VERSION_LATEST, migrate, readSchemaVersion } from "./migrations.js";

const now = (): number => 1_234;

test("a new database gets every migration, once", () => {
  const db = new Database(":memory:");
  assert.equal(migrate(db, "test", now), SCHEMA_VERSION_LATEST);
  assert.equal(migrate(db, "test", now), SCHEMA_VERSION_LATEST);
  assert.deepEqual(
    db.prepare("SELECT version, name, applied_ms FROM schema_migrations").all(),
    MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_ms: 1_234 })),
  );
  db.close();
});

test("pending migrations apply in order; a failing one leaves the earlier version whole", () => {
  const db = new Database(":memory:");
  const one = { version: 1, name: "one", sql: "CREATE TABLE a (x INTEGER) STRICT" };
  const two = { version: 2, name: "two", sql: "CREATE TABLE b (y TEXT); ALTER TABLE a ADD z TEXT" };
  const broken = {
    version: 3,
    name: "broken",
    sql: "CREATE TABLE c (x); INSERT INTO nowhere VALUES (1)",
  };
  migrate(db, "test", now, [one]);
  assert.throws(() => migrate(db, "test", now, [one, two, broken]), /nowhere/);
  assert.equal(readSchemaVersion(db), 1);
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
  assert.deepEqual(tables.pluck().all(), ["a", "schema_migrations"]);
  assert.equal(migrate(db, "test", now, [one, two]), 2);
  assert.deepEqual(tables.pluck().all(), ["a", "b", "schema_migrations"]);
  db.close();
});

test("a database from newer code is refused, naming both versions and the fix", () => {
  const db = new Database(":memory:");
  migrate(db, "/var/lib/etherplane/controller.db", now);
  db.prepare("INSERT INTO schema_migrations VALUES (?, 'future', 0)").run(
    SCHEMA_VERSION_LATEST + 5,
  );
  assert.throws(
    () => migrate(db, "/var/lib/etherplane/controller.db", now),
    (error: unknown) => {
      assert.ok(isEtherplaneError(error, "UNAVAILABLE"));
      assert.match(error.message, /controller\.db has schema version \d+/);
      assert.match(error.message, new RegExp(`version ${SCHEMA_VERSION_LATEST + 5}\\b`));
      assert.match(error.message, new RegExp(`up to ${SCHEMA_VERSION_LATEST}\\b`));
      assert.match(error.message, /Upgrade etherplane/);
      assert.deepEqual(error.params, {
        schemaVersion: SCHEMA_VERSION_LATEST + 5,
        schemaVersionKnown: SCHEMA_VERSION_LATEST,
      });
      return true;
    },
  );
  db.close();
});

test("a migration list out of order is our bug, asserted", () => {
  const db = new Database(":memory:");
  assert.throws(() => migrate(db, "test", now, [{ version: 2, name: "x", sql: "" }]), /assertion/);
  db.close();
});

test("SQLite's unique-key messages are read into a key", () => {
  assert.equal(uniqueKeyOf("UNIQUE constraint failed: volumes.name"), "volumes.name");
  assert.equal(
    uniqueKeyOf("UNIQUE constraint failed: volumes.shelf, volumes.slot"),
    "volumes.shelf,volumes.slot",
  );
  assert.equal(uniqueKeyOf("FOREIGN KEY constraint failed"), undefined);
});
