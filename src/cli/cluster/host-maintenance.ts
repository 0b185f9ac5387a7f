/** `etherplane host maintenance|activate HOST`: ask, then follow the task (unless --no-wait). */
import type { EvacuationReport } from "../../cluster/controller/maintenance-service.js";
import { finishTask, type Session } from "./session.js";
import { HostTaskReply, MaintenanceReply } from "../../api/replies.js";

export async function hostMaintenance(
  session: Session,
  command: "maintenance" | "activate",
  name: string,
  allowRestart: boolean,
): Promise<void> {
  const reply = await session.client.request(
    "POST",
    `/api/v1/hosts/${encodeURIComponent(name)}/${command}`,
    command === "maintenance" ? MaintenanceReply : HostTaskReply,
    command === "maintenance" ? (allowRestart ? { allowRestart: true } : {}) : undefined,
  );
  await finishTask(session, reply, (task) => {
    if (task.state !== "succeeded") return task.error?.message ?? task.message;
    if (command === "activate") return task.message;
    const report = task.result as EvacuationReport | null;
    const lines = [task.message];
    for (const m of report?.moved ?? [])
      lines.push(`  moved ${m.domain}: ${m.from} -> ${m.to}${m.live ? " (live)" : " (restarted)"}`);
    for (const d of report?.stopped ?? [])
      lines.push(`  stopped ${d} (pinned here; host activate ${name} starts it again)`);
    return lines.join("\n");
  });
}
