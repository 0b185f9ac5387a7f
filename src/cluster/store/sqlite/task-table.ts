/** The tasks table: reads and writes inside the store's transactions (sqlite-store.ts). */
import type { TaskRecord } from "../../model.js";
import type { Patch } from "../store.js";
import { listLimit } from "./list-limits.js";
import type { SqliteTables } from "./sqlite-tables.js";
import { rowToTask, taskToRow, type TaskRow } from "./task-rows.js";

export class TaskTable {
  constructor(private readonly t: SqliteTables) {}

  create(task: TaskRecord): void {
    this.t.insert("tasks", taskToRow(task));
  }
  get(id: string): TaskRecord | undefined {
    return this.t.byKey("tasks", "id", id, rowToTask);
  }
  /** The newest first, at most `limit` (list-limits.ts). */
  list(filter: { state?: TaskRecord["state"]; subjectId?: string; limit?: number }): TaskRecord[] {
    const limit = listLimit(filter.limit);
    const where = this.t.where({ state: filter.state, subject_id: filter.subjectId });
    const sql = `SELECT * FROM tasks ${where.sql} ORDER BY created_ms DESC, seq DESC LIMIT ?`;
    return this.t.rows<TaskRow>(sql, ...where.params, limit).map(rowToTask);
  }
  update(id: string, patch: Patch<TaskRecord>): TaskRecord {
    return this.t.patch("tasks", "task", id, patch, taskToRow, rowToTask);
  }
}
