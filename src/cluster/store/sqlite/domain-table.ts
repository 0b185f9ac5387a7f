/**
 * The domains table and domain_macs beside it (one row per vif MAC, so that a MAC is unique across
 * the cluster): reads and writes inside the store's transactions (sqlite-store.ts).
 */
import type { DomainObserved, DomainRecord, DomainStateChange } from "../../model.js";
import type { Patch } from "../store.js";
import { domainToRow, rowToDomain, type DomainRow } from "./domain-rows.js";
import { nextGeneration, SqliteRecordTable } from "./record-table.js";
import type { SqliteTables } from "./sqlite-tables.js";

/** Changes of a domain's (wanted, up) pair kept per domain: a flapping domain loses the oldest. */
export const DOMAIN_STATE_CHANGES_MAX = 1000;

export class DomainTable extends SqliteRecordTable<DomainRecord, DomainRow> {
  constructor(t: SqliteTables) {
    super(t, { table: "domains", kind: "domain", toRow: domainToRow, fromRow: rowToDomain });
  }

  override create(domain: DomainRecord): void {
    super.create(domain);
    this.writeMacs(domain);
    this.noteState(domain);
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
    this.noteState(after);
    return after;
  }
  observe(id: string, observed: DomainObserved | null): DomainRecord {
    const after = this.patch(id, {}, (before) => ({
      observed,
      generation: before.generation,
      updatedMs: this.t.nowMs(),
    }));
    this.noteState(after);
    return after;
  }
  override delete(id: string): void {
    this.t.stmt("DELETE FROM domain_state_changes WHERE domain_id = ?").run(id);
    this.t.stmt("DELETE FROM domain_macs WHERE domain_id = ?").run(id);
    super.delete(id);
  }
  usedMacs(): string[] {
    return this.t
      .rows<{ mac: string }>("SELECT mac FROM domain_macs ORDER BY mac")
      .map((r) => r.mac);
  }

  stateChanges(domainId: string): DomainStateChange[] {
    return this.t
      .rows<{ time_ms: number; wanted: number; up: number }>(
        "SELECT time_ms, wanted, up FROM domain_state_changes WHERE domain_id = ? ORDER BY rowid",
        domainId,
      )
      .map((r) => ({ timeMs: r.time_ms, wanted: r.wanted === 1, up: r.up === 1 }));
  }

  /** Appends the domain's (wanted, up) pair when it changed (inside the write's transaction). */
  private noteState(domain: DomainRecord): void {
    const wanted = domain.desiredState === "running" ? 1 : 0;
    const up = domain.observed?.state === "running" ? 1 : 0;
    const last = this.t.rows<{ wanted: number; up: number }>(
      "SELECT wanted, up FROM domain_state_changes WHERE domain_id = ? ORDER BY rowid DESC LIMIT 1",
      domain.id,
    )[0];
    if (last && last.wanted === wanted && last.up === up) return;
    this.t
      .stmt("INSERT INTO domain_state_changes (domain_id, time_ms, wanted, up) VALUES (?, ?, ?, ?)")
      .run(domain.id, this.t.nowMs(), wanted, up);
    this.t
      .stmt(
        "DELETE FROM domain_state_changes WHERE domain_id = ? AND rowid <= (SELECT rowid FROM domain_state_changes WHERE domain_id = ? ORDER BY rowid DESC LIMIT 1 OFFSET ?)",
      )
      .run(domain.id, domain.id, DOMAIN_STATE_CHANGES_MAX);
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
