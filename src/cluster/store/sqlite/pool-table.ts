/** The pools table (record-table.ts does what every table does). */
import { EtherplaneError } from "../../../foundation/errors.js";
import type { PoolRecord } from "../../model.js";
import { poolToRow, rowToPool, type PoolRow } from "./pool-rows.js";
import { SqliteRecordTable } from "./record-table.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class PoolTable extends SqliteRecordTable<PoolRecord, PoolRow> {
  constructor(t: SqliteTables) {
    super(t, { table: "pools", kind: "pool", toRow: poolToRow, fromRow: rowToPool });
  }
  list(filter: { hostId?: string }): PoolRecord[] {
    return this.listWhere({ host_id: filter.hostId }, "name, host_id");
  }
  /** CONFLICT while the pool holds volumes: their names say which to delete first. */
  override delete(id: string): void {
    const pool = this.get(id);
    if (!pool) return;
    const users = this.t.rows<{ name: string }>(
      "SELECT name FROM volumes WHERE pool_id = ? ORDER BY name LIMIT 3",
      id,
    );
    if (users.length > 0) {
      const names = users.map((u) => `"${u.name}"`).join(", ");
      throw new EtherplaneError(
        "CONFLICT",
        `pool "${pool.name}" still holds volumes (${names}${users.length === 3 ? ", ..." : ""}); delete them first`,
        { params: { poolId: id } },
      );
    }
    super.delete(id);
  }
}
