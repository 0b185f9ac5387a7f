import assert from "node:assert/strict";
import { test } from "node:test";
import { EtherplaneError } from "../../foundation/errors.js";
import { MIGRATION_LIMITS_DEFAULT } from "../../hypervisor/migration.js";
import { parseMigrationMibps } from "./migration-flags.js";

test("--migration-mibps: absent is no cap, N caps at N MiB/s, the rest keeps its defaults", () => {
  assert.deepEqual(parseMigrationMibps(undefined, "usage"), MIGRATION_LIMITS_DEFAULT);
  const limits = parseMigrationMibps("4", "usage");
  assert.equal(limits.bandwidthBytesPerSMax, 4 * 2 ** 20);
  assert.equal(limits.transferMsMax, MIGRATION_LIMITS_DEFAULT.transferMsMax);
  assert.equal(parseMigrationMibps("1024", "usage").bandwidthBytesPerSMax, 2 ** 30);
});

test("--migration-mibps: out of bounds or not a whole number is a usage error naming the range", () => {
  for (const bad of ["0", "1025", "-1", "2.5", "fast", "", "99999999999"]) {
    assert.throws(
      () => parseMigrationMibps(bad, "usage"),
      (error: unknown) => error instanceof EtherplaneError && /from 1 to 1024/.test(error.message),
      bad,
    );
  }
});
