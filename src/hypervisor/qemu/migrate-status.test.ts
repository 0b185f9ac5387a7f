import assert from "node:assert/strict";
import { test } from "node:test";
import { parseMigrateStatus } from "./migrate-status.js";

test("query-migrate while active: progress in bytes, dirty rate, expected downtime", () => {
  // Shape as QEMU 7.2 answers (qapi/migration.json MigrationInfo), trimmed.
  const status = parseMigrateStatus({
    status: "active",
    "setup-time": 2,
    "total-time": 1520,
    "expected-downtime": 300,
    ram: {
      transferred: 52_428_800,
      remaining: 10_485_760,
      total: 201_326_592,
      "dirty-pages-rate": 120,
      mbps: 268.4,
    },
  });
  assert.equal(status.state, "running");
  assert.deepEqual(status.progress, {
    transferredBytes: 52_428_800,
    remainingBytes: 10_485_760,
    totalBytes: 201_326_592,
    dirtyPagesRate: 120,
    expectedDowntimeMs: 300,
  });
  assert.equal(status.error, null);
});

test("query-migrate completed: total time and downtime", () => {
  const status = parseMigrateStatus({
    status: "completed",
    "total-time": 4210,
    downtime: 37,
    ram: { transferred: 90_000_000, remaining: 0, total: 201_326_592 },
  });
  assert.equal(status.state, "completed");
  assert.deepEqual(status.report, {
    transferredBytes: 90_000_000,
    totalTimeMs: 4210,
    downtimeMs: 37,
  });
});

test("query-migrate failed or cancelled: the error, bounded", () => {
  const failed = parseMigrateStatus({ status: "failed", "error-desc": "x".repeat(5000) });
  assert.equal(failed.state, "failed");
  assert.equal(failed.error?.length, 1024);
  assert.equal(parseMigrateStatus({ status: "cancelled" }).error, "migration cancelled");
});

test("hostile or empty replies read as no migration, no counts", () => {
  for (const reply of [null, 7, "active", {}, { status: 3, ram: "x" }]) {
    const status = parseMigrateStatus(reply);
    assert.equal(status.state, "none");
    assert.equal(status.progress.transferredBytes, 0);
  }
  const negative = parseMigrateStatus({ status: "active", ram: { transferred: -5 } });
  assert.equal(negative.progress.transferredBytes, 0);
});
