/**
 * What every record table (host-table.ts, pool-table.ts, ...) does the same way: insert, read by
 * a key, list in an order, patch and delete a record of one table through its row mapping
 * (*-rows.ts). A table file adds only what is its own. Runs inside the store's transactions.
 */
import { EtherplaneError } from "../../../foundation/errors.js";
import type { Patch } from "../store.js";
import type { RecordTable } from "./rows.js";
import type { SqliteTables } from "./sqlite-tables.js";

export interface RecordTableSpec<T, R> {
  table: RecordTable;
  /** The record's name in messages ("volume"). */
  kind: string;
  toRow: (record: T) => R;
  fromRow: (row: R) => T;
}

export class SqliteRecordTable<T extends { id: string; createdMs: number }, R extends object> {
  constructor(
    protected readonly t: SqliteTables,
    private readonly spec: RecordTableSpec<T, R>,
  ) {}

  create(record: T): void {
    this.t.insert(this.spec.table, this.spec.toRow(record));
  }
  get(id: string): T | undefined {
    return this.by("id", id);
  }
  update(id: string, patch: Patch<T>): T {
    return this.patch(id, patch);
  }
  delete(id: string): void {
    this.t.stmt(`DELETE FROM ${this.spec.table} WHERE id = ?`).run(id);
  }

  /** The record whose `column` (a unique one) holds `value`. */
  protected by(column: string, value: string): T | undefined {
    return this.t.byKey(this.spec.table, column, value, this.spec.fromRow);
  }
  /** The records whose columns equal the given conditions, in `orderBy` (SQL, fixed text). */
  protected listWhere(
    conditions: Record<string, string | undefined>,
    orderBy: string,
    limit?: number,
  ): T[] {
    const where = this.t.where(conditions);
    const params: unknown[] = [...where.params];
    let sql = `SELECT * FROM ${this.spec.table} ${where.sql} ORDER BY ${orderBy}`;
    if (limit !== undefined) {
      sql += " LIMIT ?";
      params.push(limit);
    }
    return this.t.rows<R>(sql, ...params).map((row) => this.spec.fromRow(row));
  }
  protected patch(id: string, patch: Patch<T>, adjust?: (before: T) => Partial<T>): T {
    const { table, kind, toRow, fromRow } = this.spec;
    return this.t.patch(table, kind, id, patch, toRow, fromRow, adjust);
  }
}

/**
 * The fields a change of the desired state sets: the next generation, or CONFLICT unless the
 * record is at `expectedGeneration` (when given). The store alone moves the generation: a patch
 * cannot set it back.
 */
export function nextGeneration(
  kind: string,
  before: { name: string; generation: number },
  expectedGeneration: number | undefined,
  updatedMs: number,
): { generation: number; updatedMs: number } {
  if (expectedGeneration !== undefined && before.generation !== expectedGeneration) {
    throw new EtherplaneError(
      "CONFLICT",
      `${kind} "${before.name}" changed since it was read (generation ${before.generation}, ` +
        `expected ${expectedGeneration}); read it again`,
      { params: { generation: before.generation, expectedGeneration } },
    );
  }
  return { generation: before.generation + 1, updatedMs };
}
