/**
 * The Store on one SQLite file (better-sqlite3). Calls are synchronous underneath but the Store is
 * asynchronous (an etcd store will be), so every method resolves or rejects, never throws. Every
 * write is one IMMEDIATE transaction: it takes the write lock before reading what it checks, so a
 * check and its write cannot interleave with another connection's.
 */
import { EtherplaneError } from "../../../foundation/errors.js";
import type {
  AuditRecord,
  DomainObserved,
  DomainRecord,
  DomainStateChange,
  NetworkRecord,
  HostRecord,
  PoolRecord,
  TaskRecord,
  TokenRecord,
  VolumeRecord,
} from "../../model.js";
import type { Patch, Store, VolumeFilter, VolumeObservation } from "../store.js";
import type { ConstraintLookups } from "./constraint-errors.js";
import * as domainRows from "./domain-rows.js";
import { listLimit, validAfterId, validRowsMax } from "./list-limits.js";
import { readSchemaVersion } from "./migrations.js";
import { openDatabase } from "./open-database.js";
import * as rows from "./rows.js";
import { SqliteEventTables } from "./event-tables.js";

/** Changes of a domain's (wanted, up) pair kept per domain: a flapping domain loses the oldest. */
export const DOMAIN_STATE_CHANGES_MAX = 1000;

export interface SqliteStoreOptions {
  /** The clock that stamps volumes' updatedMs and migrations; Date.now by default. */
  nowMs?: () => number;
}

/** Opens (creating its folder and file if needed) and migrates the store at `file`. */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const nowMs = options.nowMs ?? Date.now;
  // The executor turns a throw into a rejection.
  return new Promise((resolve) => resolve(new SqliteStore(openDatabase(file, nowMs), file, nowMs)));
}

class SqliteStore extends SqliteEventTables implements Store {
  protected readonly lookups: ConstraintLookups = {
    hostExists: (id) => this.row("SELECT 1 FROM hosts WHERE id = ?", id) !== undefined,
    poolHostId: (id) =>
      this.row<{ host_id: string }>("SELECT host_id FROM pools WHERE id = ?", id)?.host_id,
    volumeNameAt: (shelf, slot, exceptId) =>
      this.row<{ name: string }>(
        "SELECT name FROM volumes WHERE shelf = ? AND slot = ? AND id <> ?",
        shelf,
        slot,
        exceptId,
      )?.name,
    macHolder: (mac) =>
      this.row<{ name: string }>(
        "SELECT d.name FROM domain_macs m JOIN domains d ON d.id = m.domain_id WHERE m.mac = ?",
        mac,
      )?.name,
  };

  schemaVersion(): Promise<number> {
    return this.read(() => readSchemaVersion(this.db));
  }

  createHost(host: HostRecord): Promise<void> {
    return this.write(() => this.insert("hosts", rows.hostToRow(host)));
  }
  getHost(id: string): Promise<HostRecord | undefined> {
    return this.read(() => this.byKey("hosts", "id", id, rows.rowToHost));
  }
  findHostByName(name: string): Promise<HostRecord | undefined> {
    return this.read(() => this.byKey("hosts", "name", name, rows.rowToHost));
  }
  listHosts(): Promise<HostRecord[]> {
    return this.read(() =>
      this.rows<rows.HostRow>("SELECT * FROM hosts ORDER BY name").map(rows.rowToHost),
    );
  }
  updateHost(id: string, patch: Patch<HostRecord>): Promise<HostRecord> {
    return this.write(() => this.patch("hosts", "host", id, patch, rows.hostToRow, rows.rowToHost));
  }
  observeHosts(
    reports: ReadonlyArray<{ id: string; inventory: HostRecord["inventory"]; lastSeenMs: number }>,
  ): Promise<void> {
    return this.write(() => {
      for (const { id, inventory, lastSeenMs } of reports) {
        if (!this.row("SELECT 1 FROM hosts WHERE id = ?", id)) continue;
        this.patch("hosts", "host", id, { inventory, lastSeenMs }, rows.hostToRow, rows.rowToHost);
      }
    });
  }

  createPool(pool: PoolRecord): Promise<void> {
    return this.write(() => this.insert("pools", rows.poolToRow(pool)));
  }
  getPool(id: string): Promise<PoolRecord | undefined> {
    return this.read(() => this.byKey("pools", "id", id, rows.rowToPool));
  }
  listPools(filter: { hostId?: string } = {}): Promise<PoolRecord[]> {
    return this.read(() => {
      const where = this.where({ host_id: filter.hostId });
      const sql = `SELECT * FROM pools ${where.sql} ORDER BY name, host_id`;
      return this.rows<rows.PoolRow>(sql, ...where.params).map(rows.rowToPool);
    });
  }
  updatePool(id: string, patch: Patch<PoolRecord>): Promise<PoolRecord> {
    return this.write(() => this.patch("pools", "pool", id, patch, rows.poolToRow, rows.rowToPool));
  }
  deletePool(id: string): Promise<void> {
    return this.write(() => {
      const pool = this.byKey("pools", "id", id, rows.rowToPool);
      if (!pool) return;
      const users = this.rows<{ name: string }>(
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
      this.stmt("DELETE FROM pools WHERE id = ?").run(id);
    });
  }

  createVolume(volume: VolumeRecord): Promise<void> {
    return this.write(() => this.insert("volumes", rows.volumeToRow(volume)));
  }
  getVolume(id: string): Promise<VolumeRecord | undefined> {
    return this.read(() => this.byKey("volumes", "id", id, rows.rowToVolume));
  }
  findVolumeByName(name: string): Promise<VolumeRecord | undefined> {
    return this.read(() => this.byKey("volumes", "name", name, rows.rowToVolume));
  }
  listVolumes(filter: VolumeFilter = {}): Promise<VolumeRecord[]> {
    return this.read(() =>
      this.volumeTexts(filter).map((text) => JSON.parse(text) as VolumeRecord),
    );
  }
  listVolumesJson(filter: VolumeFilter = {}): Promise<string> {
    return this.read(() => `[${this.volumeTexts(filter).join(",")}]`);
  }
  updateVolume(
    id: string,
    patch: Patch<VolumeRecord>,
    expectedGeneration?: number,
  ): Promise<VolumeRecord> {
    return this.write(() =>
      this.patch("volumes", "volume", id, patch, rows.volumeToRow, rows.rowToVolume, (before) => {
        if (expectedGeneration !== undefined && before.generation !== expectedGeneration) {
          throw new EtherplaneError(
            "CONFLICT",
            `volume "${before.name}" changed since it was read (generation ${before.generation}, ` +
              `expected ${expectedGeneration}); read it again`,
            { params: { generation: before.generation, expectedGeneration } },
          );
        }
        // The store alone moves the generation: a patch cannot set it back.
        return { generation: before.generation + 1, updatedMs: patch.updatedMs ?? this.nowMs() };
      }),
    );
  }
  observeVolume(id: string, observed: VolumeObservation): Promise<VolumeRecord> {
    return this.write(() =>
      this.patch(
        "volumes",
        "volume",
        id,
        observed,
        rows.volumeToRow,
        rows.rowToVolume,
        (before) => ({
          // What the agent observed is not a change of the desired state: the generation stays.
          generation: before.generation,
          updatedMs: this.nowMs(),
        }),
      ),
    );
  }
  deleteVolume(id: string): Promise<void> {
    return this.write(() => {
      this.stmt("DELETE FROM volumes WHERE id = ?").run(id);
    });
  }
  provisionedBytes(poolId: string): Promise<number> {
    return this.read(
      () =>
        this.rows<{ total: number | null }>(
          "SELECT SUM(size_bytes) AS total FROM volumes WHERE pool_id = ?",
          poolId,
        )[0]?.total ?? 0,
    );
  }
  usedAddresses(): Promise<Array<{ shelf: number; slot: number }>> {
    return this.read(() =>
      this.rows<{ shelf: number; slot: number }>(
        "SELECT shelf, slot FROM volumes ORDER BY shelf, slot",
      ),
    );
  }

  createNetwork(network: NetworkRecord): Promise<void> {
    return this.write(() => this.insert("networks", domainRows.networkToRow(network)));
  }
  getNetwork(id: string): Promise<NetworkRecord | undefined> {
    return this.read(() => this.byKey("networks", "id", id, domainRows.rowToNetwork));
  }
  listNetworks(filter: { hostId?: string } = {}): Promise<NetworkRecord[]> {
    return this.read(() => {
      const where = this.where({ host_id: filter.hostId });
      const sql = `SELECT * FROM networks ${where.sql} ORDER BY name, host_id`;
      return this.rows<domainRows.NetworkRow>(sql, ...where.params).map(domainRows.rowToNetwork);
    });
  }
  updateNetwork(id: string, patch: Patch<NetworkRecord>): Promise<NetworkRecord> {
    return this.write(() =>
      this.patch(
        "networks",
        "network",
        id,
        patch,
        domainRows.networkToRow,
        domainRows.rowToNetwork,
      ),
    );
  }
  deleteNetwork(id: string): Promise<void> {
    return this.write(() => {
      this.stmt("DELETE FROM networks WHERE id = ?").run(id);
    });
  }

  createDomain(domain: DomainRecord): Promise<void> {
    return this.write(() => {
      this.insert("domains", domainRows.domainToRow(domain));
      this.writeMacs(domain);
      this.noteDomainState(domain);
    });
  }
  getDomain(id: string): Promise<DomainRecord | undefined> {
    return this.read(() => this.byKey("domains", "id", id, domainRows.rowToDomain));
  }
  findDomainByName(name: string): Promise<DomainRecord | undefined> {
    return this.read(() => this.byKey("domains", "name", name, domainRows.rowToDomain));
  }
  listDomains(filter: { hostId?: string } = {}): Promise<DomainRecord[]> {
    return this.read(() => {
      const where = this.where({ host_id: filter.hostId });
      const sql = `SELECT * FROM domains ${where.sql} ORDER BY name`;
      return this.rows<domainRows.DomainRow>(sql, ...where.params).map(domainRows.rowToDomain);
    });
  }
  updateDomain(
    id: string,
    patch: Patch<DomainRecord>,
    expectedGeneration?: number,
  ): Promise<DomainRecord> {
    return this.write(() => {
      const after = this.patch(
        "domains",
        "domain",
        id,
        patch,
        domainRows.domainToRow,
        domainRows.rowToDomain,
        (before) => {
          if (expectedGeneration !== undefined && before.generation !== expectedGeneration) {
            throw new EtherplaneError(
              "CONFLICT",
              `domain "${before.name}" changed since it was read (generation ${before.generation}, ` +
                `expected ${expectedGeneration}); read it again`,
              { params: { generation: before.generation, expectedGeneration } },
            );
          }
          return { generation: before.generation + 1, updatedMs: patch.updatedMs ?? this.nowMs() };
        },
      );
      if (patch.vifs !== undefined) this.writeMacs(after);
      this.noteDomainState(after);
      return after;
    });
  }
  observeDomain(id: string, observed: DomainObserved | null): Promise<DomainRecord> {
    return this.write(() => {
      const after = this.patch(
        "domains",
        "domain",
        id,
        {},
        domainRows.domainToRow,
        domainRows.rowToDomain,
        (before) => ({ observed, generation: before.generation, updatedMs: this.nowMs() }),
      );
      this.noteDomainState(after);
      return after;
    });
  }
  deleteDomain(id: string): Promise<void> {
    return this.write(() => {
      this.stmt("DELETE FROM domain_state_changes WHERE domain_id = ?").run(id);
      this.stmt("DELETE FROM domain_macs WHERE domain_id = ?").run(id);
      this.stmt("DELETE FROM domains WHERE id = ?").run(id);
    });
  }
  listDomainStateChanges(domainId: string): Promise<DomainStateChange[]> {
    return this.read(() =>
      this.rows<{ time_ms: number; wanted: number; up: number }>(
        "SELECT time_ms, wanted, up FROM domain_state_changes WHERE domain_id = ? ORDER BY rowid",
        domainId,
      ).map((r) => ({ timeMs: r.time_ms, wanted: r.wanted === 1, up: r.up === 1 })),
    );
  }

  /** Appends the domain's (wanted, up) pair when it changed (inside the write's transaction). */
  private noteDomainState(domain: DomainRecord): void {
    const wanted = domain.desiredState === "running" ? 1 : 0;
    const up = domain.observed?.state === "running" ? 1 : 0;
    const last = this.rows<{ wanted: number; up: number }>(
      "SELECT wanted, up FROM domain_state_changes WHERE domain_id = ? ORDER BY rowid DESC LIMIT 1",
      domain.id,
    )[0];
    if (last && last.wanted === wanted && last.up === up) return;
    this.stmt(
      "INSERT INTO domain_state_changes (domain_id, time_ms, wanted, up) VALUES (?, ?, ?, ?)",
    ).run(domain.id, this.nowMs(), wanted, up);
    this.stmt(
      "DELETE FROM domain_state_changes WHERE domain_id = ? AND rowid <= (SELECT rowid FROM domain_state_changes WHERE domain_id = ? ORDER BY rowid DESC LIMIT 1 OFFSET ?)",
    ).run(domain.id, domain.id, DOMAIN_STATE_CHANGES_MAX);
  }

  usedMacs(): Promise<string[]> {
    return this.read(() =>
      this.rows<{ mac: string }>("SELECT mac FROM domain_macs ORDER BY mac").map((r) => r.mac),
    );
  }

  /** Replaces the domain's rows in domain_macs: a MAC held by another domain is CONFLICT. */
  private writeMacs(domain: DomainRecord): void {
    this.stmt("DELETE FROM domain_macs WHERE domain_id = ?").run(domain.id);
    for (const vif of domain.vifs) {
      const row = { mac: vif.mac.toLowerCase(), domain_id: domain.id, id: domain.id };
      this.guarded("domain_macs", row, () =>
        this.stmt("INSERT INTO domain_macs (mac, domain_id) VALUES (@mac, @domain_id)").run({
          mac: row.mac,
          domain_id: row.domain_id,
        }),
      );
    }
  }

  createTask(task: TaskRecord): Promise<void> {
    return this.write(() => this.insert("tasks", rows.taskToRow(task)));
  }
  getTask(id: string): Promise<TaskRecord | undefined> {
    return this.read(() => this.byKey("tasks", "id", id, rows.rowToTask));
  }
  listTasks(
    filter: { state?: TaskRecord["state"]; subjectId?: string; limit?: number } = {},
  ): Promise<TaskRecord[]> {
    return this.read(() => {
      const limit = listLimit(filter.limit);
      const where = this.where({ state: filter.state, subject_id: filter.subjectId });
      const sql = `SELECT * FROM tasks ${where.sql} ORDER BY created_ms DESC, seq DESC LIMIT ?`;
      return this.rows<rows.TaskRow>(sql, ...where.params, limit).map(rows.rowToTask);
    });
  }
  updateTask(id: string, patch: Patch<TaskRecord>): Promise<TaskRecord> {
    return this.write(() => this.patch("tasks", "task", id, patch, rows.taskToRow, rows.rowToTask));
  }

  createToken(token: TokenRecord): Promise<void> {
    return this.write(() => this.insert("tokens", rows.tokenToRow(token)));
  }
  findTokenBySecretHash(secretHash: string): Promise<TokenRecord | undefined> {
    return this.read(() => this.byKey("tokens", "secret_hash", secretHash, rows.rowToToken));
  }
  listTokens(): Promise<TokenRecord[]> {
    return this.read(() =>
      this.rows<rows.TokenRow>("SELECT * FROM tokens ORDER BY created_ms, rowid").map(
        rows.rowToToken,
      ),
    );
  }
  updateToken(id: string, patch: Patch<TokenRecord>): Promise<TokenRecord> {
    return this.write(() =>
      this.patch("tokens", "token", id, patch, rows.tokenToRow, rows.rowToToken),
    );
  }

  appendAudit(entry: Omit<AuditRecord, "id">): Promise<number> {
    return this.write(() => {
      const row = rows.auditToRow(entry);
      const columns = Object.keys(row);
      const sql = `INSERT INTO audit (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
      return Number(this.stmt(sql).run(row).lastInsertRowid);
    });
  }
  listAudit(filter: { limit?: number; afterId?: number } = {}): Promise<AuditRecord[]> {
    return this.read(() => {
      const limit = listLimit(filter.limit);
      const found =
        filter.afterId === undefined
          ? // The newest `limit` entries, oldest of them first.
            this.rows<rows.AuditRow>(
              "SELECT * FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id",
              limit,
            )
          : this.rows<rows.AuditRow>(
              "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?",
              validAfterId(filter.afterId),
              limit,
            );
      return found.map(rows.rowToAudit);
    });
  }

  pruneAudit(limits: { olderThanMs: number; rowsMax: number }): Promise<number> {
    return this.write(() => {
      const rowsMax = validRowsMax(limits.rowsMax);
      const old = this.stmt("DELETE FROM audit WHERE time_ms < ?").run(limits.olderThanMs);
      // Ids grow with every append: the newest rowsMax are those above the rowsMax-th highest id.
      const over = this.stmt(
        "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)",
      ).run(rowsMax);
      return old.changes + over.changes;
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.statements.clear();
      this.db.close();
    }
    return Promise.resolve();
  }

  /** The JSON text of each volume that matches, by name (SQLite builds it: rows.VOLUME_JSON_SQL). */
  private volumeTexts(filter: VolumeFilter): string[] {
    const where = this.where({
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
    sql = `SELECT ${rows.VOLUME_JSON_SQL} FROM volumes ${sql} ORDER BY name`;
    if (filter.limit !== undefined) {
      sql += " LIMIT ?";
      params.push(listLimit(filter.limit));
    }
    return this.texts(sql, ...params);
  }
}
