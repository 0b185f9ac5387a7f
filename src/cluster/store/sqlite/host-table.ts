/** The hosts table (record-table.ts does what every table does). */
import type { HostRecord } from "../../model.js";
import { hostToRow, rowToHost, type HostRow } from "./host-rows.js";
import { SqliteRecordTable } from "./record-table.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class HostTable extends SqliteRecordTable<HostRecord, HostRow> {
  constructor(t: SqliteTables) {
    super(t, { table: "hosts", kind: "host", toRow: hostToRow, fromRow: rowToHost });
  }
  list(): HostRecord[] {
    return this.listWhere({}, "name");
  }
  findByName(name: string): HostRecord | undefined {
    return this.by("name", name);
  }
  /** Agents' reports batched in one transaction; a host deleted meanwhile is skipped. */
  observe(
    reports: ReadonlyArray<{ id: string; inventory: HostRecord["inventory"]; lastSeenMs: number }>,
  ): void {
    for (const { id, inventory, lastSeenMs } of reports) {
      if (!this.get(id)) continue;
      this.update(id, { inventory, lastSeenMs });
    }
  }
}
