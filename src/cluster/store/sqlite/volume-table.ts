/** The volumes table: reads and writes inside the store's transactions (sqlite-store.ts). */
import { EtherplaneError } from "../../../foundation/errors.js";
import type { VolumeRecord } from "../../model.js";
import type { Patch, VolumeFilter, VolumeObservation } from "../store.js";
import { listLimit } from "./list-limits.js";
import type { SqliteTables } from "./sqlite-tables.js";
import { VOLUME_JSON_SQL, rowToVolume, volumeToRow } from "./volume-rows.js";

export class VolumeTable {
  constructor(private readonly t: SqliteTables) {}

  create(volume: VolumeRecord): void {
    this.t.insert("volumes", volumeToRow(volume));
  }
  get(id: string): VolumeRecord | undefined {
    return this.t.byKey("volumes", "id", id, rowToVolume);
  }
  findByName(name: string): VolumeRecord | undefined {
    return this.t.byKey("volumes", "name", name, rowToVolume);
  }
  /** A change of the desired state: CONFLICT unless at `expectedGeneration`; the generation moves. */
  update(id: string, patch: Patch<VolumeRecord>, expectedGeneration?: number): VolumeRecord {
    return this.t.patch("volumes", "volume", id, patch, volumeToRow, rowToVolume, (before) => {
      if (expectedGeneration !== undefined && before.generation !== expectedGeneration) {
        throw new EtherplaneError(
          "CONFLICT",
          `volume "${before.name}" changed since it was read (generation ${before.generation}, ` +
            `expected ${expectedGeneration}); read it again`,
          { params: { generation: before.generation, expectedGeneration } },
        );
      }
      // The store alone moves the generation: a patch cannot set it back.
      return { generation: before.generation + 1, updatedMs: patch.updatedMs ?? this.t.nowMs() };
    });
  }
  observe(id: string, observed: VolumeObservation): VolumeRecord {
    return this.t.patch("volumes", "volume", id, observed, volumeToRow, rowToVolume, (before) => ({
      // What the agent observed is not a change of the desired state: the generation stays.
      generation: before.generation,
      updatedMs: this.t.nowMs(),
    }));
  }
  delete(id: string): void {
    this.t.stmt("DELETE FROM volumes WHERE id = ?").run(id);
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
