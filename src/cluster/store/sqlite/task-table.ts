/** The tasks table (record-table.ts does what every table does). */
import type { TaskRecord } from "../../model.js";
import { listLimit } from "./list-limits.js";
import { SqliteRecordTable } from "./record-table.js";
import type { SqliteTables } from "./sqlite-tables.js";
import { rowToTask, taskToRow, type TaskRow } from "./task-rows.js";

export class TaskTable extends SqliteRecordTable<TaskRecord, TaskRow> {
  constructor(t: SqliteTables) {
    super(t, { table: "tasks", kind: "task", toRow: taskToRow, fromRow: rowToTask });
  }
  /** The newest first, at most `limit` (list-limits.ts). */
  list(filter: { state?: TaskRecord["state"]; subjectId?: string; limit?: number }): TaskRecord[] {
    const conditions = { state: filter.state, subject_id: filter.subjectId };
    return this.listWhere(conditions, "created_ms DESC, seq DESC", listLimit(filter.limit));
  }
}
