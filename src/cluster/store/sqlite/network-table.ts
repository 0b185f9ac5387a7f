/** The networks table (record-table.ts does what every table does). */
import type { NetworkRecord } from "../../model.js";
import { networkToRow, rowToNetwork, type NetworkRow } from "./domain-rows.js";
import { SqliteRecordTable } from "./record-table.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class NetworkTable extends SqliteRecordTable<NetworkRecord, NetworkRow> {
  constructor(t: SqliteTables) {
    super(t, { table: "networks", kind: "network", toRow: networkToRow, fromRow: rowToNetwork });
  }
  list(filter: { hostId?: string }): NetworkRecord[] {
    return this.listWhere({ host_id: filter.hostId }, "name, host_id");
  }
}
