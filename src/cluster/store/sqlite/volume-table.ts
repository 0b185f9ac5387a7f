/** The volumes table (record-table.ts does what every table does). */
import type { VolumeRecord } from "../../model.js";
import type { Patch, VolumeFilter, VolumeObservation } from "../store.js";
import { listLimit } from "./list-limits.js";
import { nextGeneration, SqliteRecordTable } from "./record-table.js";
import type { SqliteTables } from "./sqlite-tables.js";
import { VOLUME_JSON_SQL, rowToVolume, volumeToRow, type VolumeRow } from "./volume-rows.js";

export class VolumeTable extends SqliteRecordTable<VolumeRecord, VolumeRow> {
  constructor(t: SqliteTables) {
    super(t, { table: "volumes", kind: "volume", toRow: volumeToRow, fromRow: rowToVolume });
  }
  findByName(name: string): VolumeRecord | undefined {
    return this.by("name", name);
  }
  /** A change of the desired state: CONFLICT unless at `expectedGeneration` (record-table.ts). */
  override update(
    id: string,
    patch: Patch<VolumeRecord>,
    expectedGeneration?: number,
  ): VolumeRecord {
    return this.patch(id, patch, (before) =>
      nextGeneration("volume", before, expectedGeneration, patch.updatedMs ?? this.t.nowMs()),
    );
  }
  observe(id: string, observed: VolumeObservation): VolumeRecord {
    return this.patch(id, observed, (before) => ({
      // What the agent observed is not a change of the desired state: the generation stays.
      generation: before.generation,
      updatedMs: this.t.nowMs(),
    }));
  }
  provisionedBytes(poolId: string): number {
    return (
      this.t.rows<{ total: number | null }>(
        "SELECT SUM(size_bytes) AS total FROM volumes WHERE pool_id = ?",
        poolId,
      )[0]?.total ?? 0
    );
  }
  usedAddresses(): Array<{ shelf: number; slot: number }> {
    return this.t.rows<{ shelf: number; slot: number }>(
      "SELECT shelf, slot FROM volumes ORDER BY shelf, slot",
    );
  }

  /** The JSON text of each volume that matches, by name (SQLite builds it: VOLUME_JSON_SQL). */
  texts(filter: VolumeFilter): string[] {
    const where = this.t.where({
      host_id: filter.hostId,
      pool_id: filter.poolId,
      source_id: filter.sourceId,
    });
    const params: unknown[] = [...where.params];
    let sql = where.sql;
    if (filter.afterName !== undefined) {
      sql += `${sql ? " AND" : "WHERE"} name > ?`;
      params.push(filter.afterName);
    }
    sql = `SELECT ${VOLUME_JSON_SQL} FROM volumes ${sql} ORDER BY name`;
    if (filter.limit !== undefined) {
      sql += " LIMIT ?";
      params.push(listLimit(filter.limit));
    }
    return this.t.texts(sql, ...params);
  }
}
