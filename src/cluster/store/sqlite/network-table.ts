/** The networks table: reads and writes inside the store's transactions (sqlite-store.ts). */
import type { NetworkRecord } from "../../model.js";
import type { Patch } from "../store.js";
import { networkToRow, rowToNetwork, type NetworkRow } from "./domain-rows.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class NetworkTable {
  constructor(private readonly t: SqliteTables) {}

  create(network: NetworkRecord): void {
    this.t.insert("networks", networkToRow(network));
  }
  get(id: string): NetworkRecord | undefined {
    return this.t.byKey("networks", "id", id, rowToNetwork);
  }
  list(filter: { hostId?: string }): NetworkRecord[] {
    const where = this.t.where({ host_id: filter.hostId });
    const sql = `SELECT * FROM networks ${where.sql} ORDER BY name, host_id`;
    return this.t.rows<NetworkRow>(sql, ...where.params).map(rowToNetwork);
  }
  update(id: string, patch: Patch<NetworkRecord>): NetworkRecord {
    return this.t.patch("networks", "network", id, patch, networkToRow, rowToNetwork);
  }
  delete(id: string): void {
    this.t.stmt("DELETE FROM networks WHERE id = ?").run(id);
  }
}
