/**
 * What every SQLite store table needs: statements cached by text, reads and IMMEDIATE write
 * transactions that turn SQLite's errors into the Store's, inserts and whole-row patches whose
 * constraint failures are explained (constraint-errors.ts).
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

export abstract class SqliteTables {
  protected closed = false;
  protected readonly statements = new Map<string, Statement>();
  protected abstract readonly lookups: ConstraintLookups;

  constructor(
    protected readonly db: Database.Database,
    protected readonly label: string,
    protected readonly nowMs: () => number,
  ) {}

  /** Runs `fn` now; its throw becomes the promise's rejection, as a Store error. */
  protected read<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      if (this.closed) throw new EtherplaneError("CLOSED", `the store ${this.label} is closed`);
      try {
        resolve(fn());
      } catch (error) {
        throw storeError(error, this.label);
      }
    });
  }

  protected write<T>(fn: () => T): Promise<T> {
    return this.read(() => this.db.transaction(fn).immediate());
  }

  protected stmt(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[], unknown>(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  protected row<R>(sql: string, ...params: unknown[]): R | undefined {
    return this.stmt(sql).get(...params) as R | undefined;
  }

  protected rows<R>(sql: string, ...params: unknown[]): R[] {
    return this.stmt(sql).all(...params) as R[];
  }

  /** The first column of every row, each a string (e.g. a record's JSON). */
  protected texts(sql: string, ...params: unknown[]): string[] {
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
  protected where(conditions: Record<string, string | undefined>): {
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

  protected byKey<R, T>(
    table: rows.RecordTable,
    column: string,
    value: string,
    fromRow: (row: R) => T,
  ): T | undefined {
    const row = this.row<R>(`SELECT * FROM ${table} WHERE ${column} = ?`, value);
    return row === undefined ? undefined : fromRow(row);
  }

  protected insert(table: rows.RecordTable, row: object): void {
    const columns = rows.COLUMNS[table];
    const sql = `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
    this.guarded(table, row, () => this.stmt(sql).run(row));
  }

  /**
   * Reads the record, applies the given fields of `patch` (never id or createdMs) and `adjust`'s
   * fields, writes the whole row back and returns the record as stored.
   */
  protected patch<T extends { id: string; createdMs: number }, R extends object>(
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

  protected guarded(table: rows.RecordTable | "domain_macs", row: object, fn: () => unknown): void {
    try {
      fn();
    } catch (error) {
      throw constraintError(error, table, row as Record<string, unknown>, this.lookups);
    }
  }
}
