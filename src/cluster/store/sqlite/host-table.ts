/** The hosts table: reads and writes inside the store's transactions (sqlite-store.ts). */
import type { HostRecord } from "../../model.js";
import type { Patch } from "../store.js";
import { hostToRow, rowToHost, type HostRow } from "./host-rows.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class HostTable {
  constructor(private readonly t: SqliteTables) {}

  create(host: HostRecord): void {
    this.t.insert("hosts", hostToRow(host));
  }
  get(id: string): HostRecord | undefined {
    return this.t.byKey("hosts", "id", id, rowToHost);
  }
  findByName(name: string): HostRecord | undefined {
    return this.t.byKey("hosts", "name", name, rowToHost);
  }
  list(): HostRecord[] {
    return this.t.rows<HostRow>("SELECT * FROM hosts ORDER BY name").map(rowToHost);
  }
  update(id: string, patch: Patch<HostRecord>): HostRecord {
    return this.t.patch("hosts", "host", id, patch, hostToRow, rowToHost);
  }
}
