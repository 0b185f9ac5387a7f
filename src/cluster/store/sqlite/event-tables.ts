/**
 * The event log and the cluster's settings on SQLite: reads and writes inside the store's
 * transactions (sqlite-store.ts). The event log is bounded at each append: the oldest rows beyond
 * `rowsMax` go in the same transaction.
 */
import type { EventRecord } from "../../model.js";
import type { EventFilter } from "../store.js";
import { listLimit, validAfterId, validRowsMax } from "./list-limits.js";
import { fromJson, toJson } from "./rows.js";
import type { SqliteTables } from "./sqlite-tables.js";

interface EventRow {
  id: number;
  time_ms: number;
  kind: string;
  subject: string;
  message: string;
  fields: string;
}

function rowToEvent(r: EventRow): EventRecord {
  return {
    id: r.id,
    timeMs: r.time_ms,
    kind: r.kind,
    subject: r.subject,
    message: r.message,
    fields: fromJson<EventRecord["fields"]>(r.fields),
  };
}

export class EventTables {
  constructor(private readonly t: SqliteTables) {}

  appendEvents(entries: ReadonlyArray<Omit<EventRecord, "id">>, rowsMax: number): number[] {
    const keep = validRowsMax(rowsMax);
    const ids = entries.map((entry) =>
      Number(
        this.t
          .stmt(
            "INSERT INTO events (time_ms, kind, subject, message, fields) VALUES (@time_ms, @kind, @subject, @message, @fields)",
          )
          .run({
            time_ms: entry.timeMs,
            kind: entry.kind,
            subject: entry.subject,
            message: entry.message,
            fields: toJson(entry.fields, "event fields"),
          }).lastInsertRowid,
      ),
    );
    // Ids grow with every append: the newest `keep` are those above the keep-th highest id.
    this.t
      .stmt(
        "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)",
      )
      .run(keep);
    return ids;
  }

  listEvents(filter: EventFilter): EventRecord[] {
    const limit = listLimit(filter.limit);
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (filter.afterId !== undefined) {
      conditions.push("id > ?");
      params.push(validAfterId(filter.afterId));
    }
    if (filter.sinceMs !== undefined) {
      conditions.push("time_ms >= ?");
      params.push(filter.sinceMs);
    }
    const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
    // Paging forward from a point: the oldest `limit` after it. Without one: the newest `limit`.
    const sql =
      conditions.length > 0
        ? `SELECT * FROM events ${where} ORDER BY id LIMIT ?`
        : "SELECT * FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id";
    return this.t.rows<EventRow>(sql, ...params, limit).map(rowToEvent);
  }

  listSettings(): Record<string, unknown> {
    return Object.fromEntries(
      this.t
        .rows<{ key: string; value: string }>("SELECT key, value FROM settings ORDER BY key")
        .map((r) => [r.key, fromJson<unknown>(r.value)]),
    );
  }

  setSetting(key: string, value: unknown): void {
    this.t
      .stmt(
        "INSERT INTO settings (key, value, updated_ms) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
      )
      .run(key, toJson(value, `setting ${key}`), this.t.nowMs());
  }
}
