/**
 * What every SQLite store table needs: statements cached by text, reads and IMMEDIATE write
 * transactions that turn SQLite's errors into the Store's, inserts and whole-row patches whose
 * constraint failures are explained (constraint-errors.ts). One instance per database, shared by
 * the per-record-type tables (host-table.ts, ...); the store façade (sqlite-store.ts) alone opens
 * transactions, with `read` and `write`.
 */
import type Database from "better-sqlite3";
import { assert } from "../../../foundation/assert.js";
import { EtherplaneError } from "../../../foundation/errors.js";
import type { Patch } from "../store.js";
import { constraintError, storeError, type ConstraintLookups } from "./constraint-errors.js";
import * as rows from "./rows.js";

type Statement = Database.Statement<unknown[], unknown>;

/** Keys with an undefined value mean "not given" in a patch. */
function given<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export class SqliteTables {
  private closed = false;
  private readonly statements = new Map<string, Statement>();
  /** What constraint-errors.ts asks to explain a refused write. */
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
    macHolder: (mac) =>
      this.row<{ name: string }>(
        "SELECT d.name FROM domain_macs m JOIN domains d ON d.id = m.domain_id WHERE m.mac = ?",
        mac,
      )?.name,
  };

  constructor(
    readonly db: Database.Database,
    private readonly label: string,
    readonly nowMs: () => number,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }

  /** Runs `fn` now; its throw becomes the promise's rejection, as a Store error. */
  read<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      if (this.closed) throw new EtherplaneError("CLOSED", `the store ${this.label} is closed`);
      try {
        resolve(fn());
      } catch (error) {
        throw storeError(error, this.label);
      }
    });
  }

  write<T>(fn: () => T): Promise<T> {
    return this.read(() => this.db.transaction(fn).immediate());
  }

  stmt(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[], unknown>(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  row<R>(sql: string, ...params: unknown[]): R | undefined {
    return this.stmt(sql).get(...params) as R | undefined;
  }

  rows<R>(sql: string, ...params: unknown[]): R[] {
    return this.stmt(sql).all(...params) as R[];
  }

  /** The first column of every row, each a string (e.g. a record's JSON). */
  texts(sql: string, ...params: unknown[]): string[] {
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
  where(conditions: Record<string, string | undefined>): {
    sql: string;
    params: string[];
  } {
    const present = Object.entries(conditions).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    if (present.length === 0) return { sql: "", params: [] };
    return {
      sql: `WHERE ${present.map(([column]) => `${column} = ?`).join(" AND ")}`,
      params: present.map(([, value]) => value),
    };
  }

  byKey<R, T>(
    table: rows.RecordTable,
    column: string,
    value: string,
    fromRow: (row: R) => T,
  ): T | undefined {
    const row = this.row<R>(`SELECT * FROM ${table} WHERE ${column} = ?`, value);
    return row === undefined ? undefined : fromRow(row);
  }

  insert(table: rows.RecordTable, row: object): void {
    const columns = rows.COLUMNS[table];
    const sql = `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
    this.guarded(table, row, () => this.stmt(sql).run(row));
  }

  /**
   * Reads the record, applies the given fields of `patch` (never id or createdMs) and `adjust`'s
   * fields, writes the whole row back and returns the record as stored.
   */
  patch<T extends { id: string; createdMs: number }, R extends object>(
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

  guarded(table: rows.RecordTable | "domain_macs", row: object, fn: () => unknown): void {
    try {
      fn();
    } catch (error) {
      throw constraintError(error, table, row as Record<string, unknown>, this.lookups);
    }
  }
}
