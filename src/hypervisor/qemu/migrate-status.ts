/**
 * QMP `query-migrate`'s reply (qapi/migration.json, MigrationInfo) -> what etherplane reports
 * (pure). Fields used: `status` (MigrationStatus), `total-time` and `downtime` (ms, once
 * completed), `expected-downtime` (ms, while active), `error-desc` (failed), and under `ram`
 * (MigrationStats): `transferred`, `remaining`, `total` (bytes), `dirty-pages-rate` (pages/s).
 */
import type { MigrationProgress, MigrationReport } from "../migration.js";

export type MigrateState = "none" | "running" | "completed" | "failed";

export interface MigrateStatus {
  state: MigrateState;
  /** QEMU's own status word (setup, active, device, pre-switchover, completed, ...). */
  status: string;
  progress: MigrationProgress;
  report: MigrationReport;
  error: string | null;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0;
}

function optionalMs(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
}

/** Status words that end a migration badly (cancelled by us, or failed on the way). */
const failedStatuses = new Set(["failed", "cancelled", "cancelling"]);

export function parseMigrateStatus(reply: unknown): MigrateStatus {
  const info = (typeof reply === "object" && reply !== null ? reply : {}) as Record<
    string,
    unknown
  >;
  const ram = (
    typeof info["ram"] === "object" && info["ram"] !== null ? info["ram"] : {}
  ) as Record<string, unknown>;
  const status = typeof info["status"] === "string" ? info["status"] : "none";
  const state: MigrateState =
    status === "none"
      ? "none"
      : status === "completed"
        ? "completed"
        : failedStatuses.has(status)
          ? "failed"
          : "running";
  const errorDesc = info["error-desc"];
  return {
    state,
    status,
    progress: {
      transferredBytes: count(ram["transferred"]),
      remainingBytes: count(ram["remaining"]),
      totalBytes: count(ram["total"]),
      dirtyPagesRate: count(ram["dirty-pages-rate"]),
      expectedDowntimeMs: optionalMs(info["expected-downtime"]),
    },
    report: {
      transferredBytes: count(ram["transferred"]),
      totalTimeMs: count(info["total-time"]),
      downtimeMs: optionalMs(info["downtime"]),
    },
    error:
      state === "failed"
        ? typeof errorDesc === "string"
          ? errorDesc.slice(0, 1024)
          : `migration ${status}`
        : null,
  };
}
