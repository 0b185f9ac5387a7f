/** AuditLog on a real (in-memory) SQLite store, its clock moved by the test. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { IN_MEMORY, openSqliteStore } from "../store/sqlite/index.js";
import { AUDIT_LIMITS_DEFAULT, AUDIT_TEXT_CHARS_MAX, AuditLog, boundText } from "./audit-log.js";

test("boundText: control and bidi characters become ?, long text is cut and says by how much", () => {
  assert.equal(boundText("a\nb\u202ec\u0000", 10), "a?b?c?");
  assert.equal(boundText("x".repeat(12), 10), `${"x".repeat(10)}... (+2 chars)`);
  assert.equal(boundText("short", 10), "short");
});

test("record bounds subject and detail; refused calls make one row per interval", async () => {
  const store = await openSqliteStore(IN_MEMORY);
  let nowMs = 1_000_000;
  const log = new AuditLog(
    store,
    { ...AUDIT_LIMITS_DEFAULT, refusedSummaryIntervalMs: 60_000 },
    () => nowMs,
  );
  try {
    await log.record({
      timeMs: nowMs,
      actor: "admin",
      role: "admin",
      method: "POST",
      path: "/api/v1/domains",
      status: 400,
      result: "error",
      subject: "s".repeat(20_000),
      detail: "d".repeat(20_000),
    });
    const [row] = await store.listAudit();
    assert.ok(row);
    assert.ok((row.subject ?? "").length <= AUDIT_TEXT_CHARS_MAX + 20);
    assert.ok((row.detail ?? "").length <= AUDIT_TEXT_CHARS_MAX + 20);

    for (let i = 0; i < 10; i++) await log.refusedUnauthenticated("GET", `/api/v1/x${i}`);
    assert.equal((await store.listAudit()).length, 2, "the first refused call is written at once");
    assert.deepEqual(log.counters(), {
      refusedUnauthenticated: 10,
      refusedUnauthenticatedPending: 9,
    });
    nowMs += 59_999;
    await log.refusedUnauthenticated("GET", "/api/v1/y");
    assert.equal((await store.listAudit()).length, 2, "still within the interval");
    nowMs += 1;
    await log.refusedUnauthenticated("GET", "/api/v1/z");
    const rows = await store.listAudit();
    assert.equal(rows.length, 3, "one more row once the interval has passed");
    assert.match(rows[2]?.detail ?? "", /^11 calls without a valid token refused since /);
    assert.equal(rows[2]?.path, "/api/v1/z");
    await log.flush();
    assert.equal((await store.listAudit()).length, 3, "nothing pending: flush writes nothing");
  } finally {
    await store.close();
  }
});
