/** Audit log records <-> SQLite rows (the conventions: row-json.ts). Pure. */
import type { AuditRecord } from "../../model.js";

export interface AuditRow {
  id: number;
  time_ms: number;
  actor: string;
  role: string;
  method: string;
  path: string;
  status: number;
  result: string;
  subject: string | null;
  detail: string | null;
}

export function auditToRow(a: Omit<AuditRecord, "id">): Omit<AuditRow, "id"> {
  return {
    time_ms: a.timeMs,
    actor: a.actor,
    role: a.role,
    method: a.method,
    path: a.path,
    status: a.status,
    result: a.result,
    subject: a.subject,
    detail: a.detail,
  };
}

export function rowToAudit(r: AuditRow): AuditRecord {
  return {
    id: r.id,
    timeMs: r.time_ms,
    actor: r.actor,
    role: r.role,
    method: r.method,
    path: r.path,
    status: r.status,
    result: r.result as AuditRecord["result"],
    subject: r.subject,
    detail: r.detail,
  };
}
