/**
 * The audit log: appended to, listed in pages, pruned by age and count. Reads and writes inside
 * the store's transactions (sqlite-store.ts).
 */
import type { AuditRecord } from "../../model.js";
import { auditToRow, rowToAudit, type AuditRow } from "./audit-rows.js";
import { listLimit, validAfterId, validRowsMax } from "./list-limits.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class AuditTable {
  constructor(private readonly t: SqliteTables) {}

  append(entry: Omit<AuditRecord, "id">): number {
    const row = auditToRow(entry);
    const columns = Object.keys(row);
    const sql = `INSERT INTO audit (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
    return Number(this.t.stmt(sql).run(row).lastInsertRowid);
  }
  list(filter: { limit?: number; afterId?: number }): AuditRecord[] {
    const limit = listLimit(filter.limit);
    const found =
      filter.afterId === undefined
        ? // The newest `limit` entries, oldest of them first.
          this.t.rows<AuditRow>(
            "SELECT * FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id",
            limit,
          )
        : this.t.rows<AuditRow>(
            "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?",
            validAfterId(filter.afterId),
            limit,
          );
    return found.map(rowToAudit);
  }
  /** Deletes entries older than `olderThanMs` and all but the newest `rowsMax`; returns how many. */
  prune(limits: { olderThanMs: number; rowsMax: number }): number {
    const rowsMax = validRowsMax(limits.rowsMax);
    const old = this.t.stmt("DELETE FROM audit WHERE time_ms < ?").run(limits.olderThanMs);
    // Ids grow with every append: the newest rowsMax are those above the rowsMax-th highest id.
    const over = this.t
      .stmt(
        "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)",
      )
      .run(rowsMax);
    return old.changes + over.changes;
  }
}
