/** Task records <-> SQLite rows (the conventions: row-json.ts). Pure. */
import type { TaskRecord } from "../../model.js";
import { fromJson, toJson } from "./row-json.js";

export interface TaskRow {
  id: string;
  kind: string;
  state: string;
  progress: number;
  message: string;
  subject_id: string | null;
  result: string | null;
  error: string | null;
  created_by: string;
  created_ms: number;
  updated_ms: number;
}

export function taskToRow(t: TaskRecord): TaskRow {
  return {
    id: t.id,
    kind: t.kind,
    state: t.state,
    progress: t.progress,
    message: t.message,
    subject_id: t.subjectId,
    result: t.result === undefined ? null : toJson(t.result, "task result"),
    error: t.error === null ? null : toJson(t.error, "task error"),
    created_by: t.createdBy,
    created_ms: t.createdMs,
    updated_ms: t.updatedMs,
  };
}

export function rowToTask(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    kind: r.kind,
    state: r.state as TaskRecord["state"],
    progress: r.progress,
    message: r.message,
    subjectId: r.subject_id,
    result: r.result === null ? undefined : fromJson<unknown>(r.result),
    error: r.error === null ? null : fromJson<TaskRecord["error"]>(r.error),
    createdBy: r.created_by,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
  };
}
