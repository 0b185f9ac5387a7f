/**
 * The audit log's bounds through the real controller (HTTP on loopback, a real SQLite file): a
 * 15,000-character path leaves a short row, refused unauthenticated calls are counted and
 * summarised instead of written one by one, and retention prunes by age and row count.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { AUDIT_LIMITS_DEFAULT, AUDIT_PATH_CHARS_MAX } from "../cluster/controller/audit-log.js";
import type { AuditRecord } from "../cluster/model.js";
import { startController } from "../daemon/start-controller.js";
import { openSqliteStore } from "../cluster/store/sqlite/index.js";
import { httpController } from "./testing/http-controller.js";

const HOUR_MS = 3600_000;

describe("audit log bounds", () => {
  const api = httpController("ep-audit-", {
    audit: { ...AUDIT_LIMITS_DEFAULT, refusedSummaryIntervalMs: 10 * HOUR_MS },
  });
  const { call } = api;
  const entries = async () =>
    (
      await call<{ entries: AuditRecord[]; refusedUnauthenticated: number }>(
        "GET",
        "/api/v1/audit?limit=10000",
      )
    ).body;

  test("refused unauthenticated calls: counted, one summary row, the path bounded", async () => {
    const longPath = `/api/v1/volumes/${"x".repeat(15_000)}`;
    const before = (await entries()).entries.length;
    for (let i = 0; i < 40; i++) {
      const reply = await call("POST", longPath, { name: "v" }, i % 2 === 0 ? null : "ept_wrong");
      assert.equal(reply.status, 401);
    }
    const after = await entries();
    assert.equal(after.refusedUnauthenticated, 40, "every refused call is counted");
    const added = after.entries.slice(before);
    assert.equal(added.length, 1, `one row for 40 refused calls: ${JSON.stringify(added)}`);
    const row = added[0]!;
    assert.equal(row.actor, "anonymous");
    assert.equal(row.status, 401);
    assert.ok(row.path.length < AUDIT_PATH_CHARS_MAX + 40, `path of ${row.path.length} chars`);
    assert.match(row.path, /\.\.\. \(\+\d+ chars\)$/, "says that it was cut");
    assert.match(row.detail ?? "", /^1 call without a valid token refused since /);
  });

  test("an authenticated call's long path is bounded too", async () => {
    const name = "y".repeat(15_000);
    const reply = await call("POST", `/api/v1/volumes/${name}/snapshot`, { name: "s" });
    assert.equal(reply.status, 400, "the name is too long for the route");
    const row = (await entries()).entries.at(-1)!;
    assert.equal(row.actor, "admin");
    assert.equal(row.status, 400);
    assert.ok(row.path.length < AUDIT_PATH_CHARS_MAX + 40, `path of ${row.path.length} chars`);
    assert.ok((row.detail ?? "").length < 600, `detail of ${(row.detail ?? "").length} chars`);
    assert.ok(JSON.stringify(row).length < 2000, "the row is small");
  });

  test("at stop, the calls refused since the last row are written as one summary", async () => {
    for (let i = 0; i < 5; i++)
      assert.equal((await call("GET", "/api/v1/hosts", undefined, null)).status, 401);
    const counted = await entries();
    assert.equal(counted.refusedUnauthenticated, 45);
    await api.started.stop();
    const store = await openSqliteStore(path.join(api.dir, "controller.db"));
    try {
      const rows = await store.listAudit({ limit: 10_000 });
      const summaries = rows.filter((r) => r.actor === "anonymous");
      assert.equal(summaries.length, 2, JSON.stringify(summaries));
      assert.match(summaries[1]?.detail ?? "", /^44 calls without a valid token refused since /);
      assert.equal(summaries[1]?.path, "/api/v1/hosts", "the last refused call is shown");
    } finally {
      await store.close();
    }
  });
});

describe("audit retention", () => {
  test("at start, entries older than the age and beyond the row cap are pruned", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-audit-retention-"));
    try {
      const file = path.join(dir, "controller.db");
      const store = await openSqliteStore(file);
      const now = Date.now();
      const entry = (timeMs: number, subject: string) => ({
        timeMs,
        actor: "admin",
        role: "admin",
        method: "POST",
        path: "/api/v1/volumes",
        status: 202,
        result: "ok" as const,
        subject,
        detail: null,
      });
      await store.appendAudit(entry(now - 40 * 24 * HOUR_MS, "forty days old"));
      for (let i = 0; i < 5; i++) await store.appendAudit(entry(now - i * HOUR_MS, `recent ${i}`));
      await store.close();

      const started = await startController({
        dataDir: dir,
        host: "127.0.0.1",
        port: 0,
        limits: {
          audit: { ...AUDIT_LIMITS_DEFAULT, retentionMs: 30 * 24 * HOUR_MS, retentionRowsMax: 3 },
        },
      });
      try {
        const kept = await started.controller.store.listAudit({ limit: 100 });
        assert.deepEqual(
          kept.map((e) => e.subject),
          ["recent 2", "recent 3", "recent 4"],
          "the old entry and the oldest beyond 3 rows are gone",
        );
      } finally {
        await started.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
