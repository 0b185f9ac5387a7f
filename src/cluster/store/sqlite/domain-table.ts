/**
 * The domains table and domain_macs beside it (one row per vif MAC, so that a MAC is unique across
 * the cluster): reads and writes inside the store's transactions (sqlite-store.ts).
 */
import { EtherplaneError } from "../../../foundation/errors.js";
import type { DomainObserved, DomainRecord } from "../../model.js";
import type { Patch } from "../store.js";
import { domainToRow, rowToDomain, type DomainRow } from "./domain-rows.js";
import type { SqliteTables } from "./sqlite-tables.js";

export class DomainTable {
  constructor(private readonly t: SqliteTables) {}

  create(domain: DomainRecord): void {
    this.t.insert("domains", domainToRow(domain));
    this.writeMacs(domain);
  }
  get(id: string): DomainRecord | undefined {
    return this.t.byKey("domains", "id", id, rowToDomain);
  }
  findByName(name: string): DomainRecord | undefined {
    return this.t.byKey("domains", "name", name, rowToDomain);
  }
  list(filter: { hostId?: string }): DomainRecord[] {
    const where = this.t.where({ host_id: filter.hostId });
    const sql = `SELECT * FROM domains ${where.sql} ORDER BY name`;
    return this.t.rows<DomainRow>(sql, ...where.params).map(rowToDomain);
  }
  /** A change of the desired state: CONFLICT unless at `expectedGeneration`; the generation moves. */
  update(id: string, patch: Patch<DomainRecord>, expectedGeneration?: number): DomainRecord {
    const after = this.t.patch(
      "domains",
      "domain",
      id,
      patch,
      domainToRow,
      rowToDomain,
      (before) => {
        if (expectedGeneration !== undefined && before.generation !== expectedGeneration) {
          throw new EtherplaneError(
            "CONFLICT",
            `domain "${before.name}" changed since it was read (generation ${before.generation}, ` +
              `expected ${expectedGeneration}); read it again`,
            { params: { generation: before.generation, expectedGeneration } },
          );
        }
        return { generation: before.generation + 1, updatedMs: patch.updatedMs ?? this.t.nowMs() };
      },
    );
    if (patch.vifs !== undefined) this.writeMacs(after);
    return after;
  }
  observe(id: string, observed: DomainObserved | null): DomainRecord {
    return this.t.patch("domains", "domain", id, {}, domainToRow, rowToDomain, (before) => ({
      observed,
      generation: before.generation,
      updatedMs: this.t.nowMs(),
    }));
  }
  delete(id: string): void {
    this.t.stmt("DELETE FROM domain_macs WHERE domain_id = ?").run(id);
    this.t.stmt("DELETE FROM domains WHERE id = ?").run(id);
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
