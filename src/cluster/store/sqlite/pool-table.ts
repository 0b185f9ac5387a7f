/** The pools table: reads and writes inside the store's transactions (sqlite-store.ts). */
import { EtherplaneError } from "../../../foundation/errors.js";
import type { PoolRecord } from "../../model.js";
import type { Patch } from "../store.js";
import { poolToRow, rowToPool, type PoolRow } from "./pool-rows.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class PoolTable {
  constructor(private readonly t: SqliteTables) {}

  create(pool: PoolRecord): void {
    this.t.insert("pools", poolToRow(pool));
  }
  get(id: string): PoolRecord | undefined {
    return this.t.byKey("pools", "id", id, rowToPool);
  }
  list(filter: { hostId?: string }): PoolRecord[] {
    const where = this.t.where({ host_id: filter.hostId });
    const sql = `SELECT * FROM pools ${where.sql} ORDER BY name, host_id`;
    return this.t.rows<PoolRow>(sql, ...where.params).map(rowToPool);
  }
  update(id: string, patch: Patch<PoolRecord>): PoolRecord {
    return this.t.patch("pools", "pool", id, patch, poolToRow, rowToPool);
  }
  /** CONFLICT while the pool holds volumes: their names say which to delete first. */
  delete(id: string): void {
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
    this.t.stmt("DELETE FROM pools WHERE id = ?").run(id);
  }
}
