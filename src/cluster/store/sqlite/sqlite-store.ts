/**
 * The Store on one SQLite file (better-sqlite3). Calls are synchronous underneath but the Store is
 * asynchronous (an etcd store will be), so every method resolves or rejects, never throws. Every
 * write is one IMMEDIATE transaction: it takes the write lock before reading what it checks, so a
 * check and its write cannot interleave with another connection's.
 */
import type Database from "better-sqlite3";
import { assert } from "../../../foundation/assert.js";
import { EtherplaneError } from "../../../foundation/errors.js";
import type {
  AuditRecord,
  HostRecord,
  PoolRecord,
  TaskRecord,
  TokenRecord,
  VolumeRecord,
} from "../../model.js";
import type { Patch, Store, VolumeFilter, VolumeObservation } from "../store.js";
import { constraintError, storeError, type ConstraintLookups } from "./constraint-errors.js";
import { listLimit, validAfterId } from "./list-limits.js";
import { readSchemaVersion } from "./migrations.js";
import { openDatabase } from "./open-database.js";
import * as rows from "./rows.js";

type Statement = Database.Statement<unknown[], unknown>;

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

/** Keys with an undefined value mean "not given" in a patch. */
function given<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

class SqliteStore implements Store {
  private closed = false;
  private readonly statements = new Map<string, Statement>();
  private readonly lookups: ConstraintLookups = {
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
  };

  constructor(
    private readonly db: Database.Database,
    private readonly label: string,
    private readonly nowMs: () => number,
  ) {}

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

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.statements.clear();
      this.db.close();
    }
    return Promise.resolve();
  }

  /** Runs `fn` now; its throw becomes the promise's rejection, as a Store error. */
  private read<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      if (this.closed) throw new EtherplaneError("CLOSED", `the store ${this.label} is closed`);
      try {
        resolve(fn());
      } catch (error) {
        throw storeError(error, this.label);
      }
    });
  }

  private write<T>(fn: () => T): Promise<T> {
    return this.read(() => this.db.transaction(fn).immediate());
  }

  private stmt(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[], unknown>(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private row<R>(sql: string, ...params: unknown[]): R | undefined {
    return this.stmt(sql).get(...params) as R | undefined;
  }

  private rows<R>(sql: string, ...params: unknown[]): R[] {
    return this.stmt(sql).all(...params) as R[];
  }

  /** The JSON text of each volume that matches, by name (SQLite builds it: rows.VOLUME_JSON_SQL). */
  private volumeTexts(filter: VolumeFilter): string[] {
    const where = this.where({
      host_id: filter.hostId,
      pool_id: filter.poolId,
      source_id: filter.sourceId,
    });
    const sql = `SELECT ${rows.VOLUME_JSON_SQL} FROM volumes ${where.sql} ORDER BY name`;
    return this.texts(sql, ...where.params);
  }

  /** The first column of every row, each a string (e.g. a record's JSON). */
  private texts(sql: string, ...params: unknown[]): string[] {
    const texts = this.stmt(sql)
      .pluck()
      .all(...params);
    assert(
      texts.every((t) => typeof t === "string"),
      `${sql.slice(0, 60)}... gave a non-text column`,
    );
    return texts;
  }

  /** `WHERE a = ? AND b = ?` over the conditions that are given. */
  private where(conditions: Record<string, string | undefined>): { sql: string; params: string[] } {
    const present = Object.entries(conditions).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    if (present.length === 0) return { sql: "", params: [] };
    return {
      sql: `WHERE ${present.map(([column]) => `${column} = ?`).join(" AND ")}`,
      params: present.map(([, value]) => value),
    };
  }

  private byKey<R, T>(
    table: rows.RecordTable,
    column: string,
    value: string,
    fromRow: (row: R) => T,
  ): T | undefined {
    const row = this.row<R>(`SELECT * FROM ${table} WHERE ${column} = ?`, value);
    return row === undefined ? undefined : fromRow(row);
  }

  private insert(table: rows.RecordTable, row: object): void {
    const columns = rows.COLUMNS[table];
    const sql = `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
    this.guarded(table, row, () => this.stmt(sql).run(row));
  }

  /**
   * Reads the record, applies the given fields of `patch` (never id or createdMs) and `adjust`'s
   * fields, writes the whole row back and returns the record as stored.
   */
  private patch<T extends { id: string; createdMs: number }, R extends object>(
    table: rows.RecordTable,
    kind: string,
    id: string,
    patch: Patch<T>,
    toRow: (record: T) => R,
    fromRow: (row: R) => T,
    adjust?: (before: T) => Partial<T>,
  ): T {
    const before = this.byKey(table, "id", id, fromRow);
    if (before === undefined) {
      throw new EtherplaneError("NOT_FOUND", `${kind} "${id}" does not exist`, { params: { id } });
    }
    const after: T = {
      ...before,
      ...given(patch),
      ...adjust?.(before),
      id: before.id,
      createdMs: before.createdMs,
    };
    const row = toRow(after);
    const columns = rows.COLUMNS[table].filter((c) => c !== "id");
    const sql = `UPDATE ${table} SET ${columns.map((c) => `${c} = @${c}`).join(", ")} WHERE id = @id`;
    this.guarded(table, row, () => this.stmt(sql).run(row));
    const stored = this.byKey(table, "id", id, fromRow);
    assert(stored !== undefined, `${kind} ${id} vanished inside its own transaction`);
    return stored;
  }

  private guarded(table: rows.RecordTable, row: object, fn: () => unknown): void {
    try {
      fn();
    } catch (error) {
      throw constraintError(error, table, row as Record<string, unknown>, this.lookups);
    }
  }
}
