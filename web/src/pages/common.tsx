/** What every page gets, and the small pieces they share. */
import type { Api } from "../api";
import type { ClusterData } from "../live";
import type { Task } from "../types";

export interface PageProps {
  api: Api;
  data: ClusterData;
  refresh: () => Promise<void>;
  /** The token may change things (admin, operator); a viewer sees no action buttons. */
  canWrite: boolean;
  /** An admin token: tokens, the audit log, networks, opening a volume to everyone. */
  isAdmin: boolean;
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A used/total bar with its numbers in words for screen readers. */
export function Bar({ used, total, label }: { used: number; total: number; label: string }) {
  const percent = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return (
    <div
      class={percent > 90 ? "bar full" : "bar"}
      role="meter"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
    >
      <span style={{ width: `${percent}%` }} />
    </div>
  );
}

/** A task as the list of tasks shows it now (the change feed refreshes that list). */
export function TaskProgress({ task, tasks }: { task: Task; tasks: Task[] }) {
  const now = tasks.find((t) => t.id === task.id) ?? task;
  const percent = Math.round(now.progress * 100);
  return (
    <div class={`task task-${now.state}`} role="status" data-testid="task">
      <span class="task-kind">{now.kind}</span>{" "}
      <progress max={100} value={percent} aria-label={`${now.kind} progress`} />{" "}
      <span>
        {now.state}
        {now.state === "running" ? ` ${percent}%` : ""}
        {now.message ? `: ${now.message}` : ""}
        {now.error ? `: ${now.error.message}` : ""}
      </span>
    </div>
  );
}
