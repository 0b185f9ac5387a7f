/**
 * The domains table and domain_macs beside it (one row per vif MAC, so that a MAC is unique across
 * the cluster): reads and writes inside the store's transactions (sqlite-store.ts).
 */
import type { DomainObserved, DomainRecord } from "../../model.js";
import type { Patch } from "../store.js";
import { domainToRow, rowToDomain, type DomainRow } from "./domain-rows.js";
import { nextGeneration, SqliteRecordTable } from "./record-table.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class DomainTable extends SqliteRecordTable<DomainRecord, DomainRow> {
  constructor(t: SqliteTables) {
    super(t, { table: "domains", kind: "domain", toRow: domainToRow, fromRow: rowToDomain });
  }

  override create(domain: DomainRecord): void {
    super.create(domain);
    this.writeMacs(domain);
  }
  findByName(name: string): DomainRecord | undefined {
    return this.by("name", name);
  }
  list(filter: { hostId?: string }): DomainRecord[] {
    return this.listWhere({ host_id: filter.hostId }, "name");
  }
  /** A change of the desired state: CONFLICT unless at `expectedGeneration` (record-table.ts). */
  override update(
    id: string,
    patch: Patch<DomainRecord>,
    expectedGeneration?: number,
  ): DomainRecord {
    const after = this.patch(id, patch, (before) =>
      nextGeneration("domain", before, expectedGeneration, patch.updatedMs ?? this.t.nowMs()),
    );
    if (patch.vifs !== undefined) this.writeMacs(after);
    return after;
  }
  observe(id: string, observed: DomainObserved | null): DomainRecord {
    return this.patch(id, {}, (before) => ({
      observed,
      generation: before.generation,
      updatedMs: this.t.nowMs(),
    }));
  }
  override delete(id: string): void {
    this.t.stmt("DELETE FROM domain_macs WHERE domain_id = ?").run(id);
    super.delete(id);
  }
  usedMacs(): string[] {
    return this.t
      .rows<{ mac: string }>("SELECT mac FROM domain_macs ORDER BY mac")
      .map((r) => r.mac);
  }

  /** Replaces the domain's rows in domain_macs: a MAC held by another domain is CONFLICT. */
  private writeMacs(domain: DomainRecord): void {
    this.t.stmt("DELETE FROM domain_macs WHERE domain_id = ?").run(domain.id);
    for (const vif of domain.vifs) {
      const row = { mac: vif.mac.toLowerCase(), domain_id: domain.id, id: domain.id };
      this.t.guarded("domain_macs", row, () =>
        this.t.stmt("INSERT INTO domain_macs (mac, domain_id) VALUES (@mac, @domain_id)").run({
          mac: row.mac,
          domain_id: row.domain_id,
        }),
      );
    }
  }
}
