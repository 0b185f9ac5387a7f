/** What `etherplane p2v` prints: the plan of a --dry-run, the report of a pass (text or JSON). */
import type { CopyEdit } from "../../p2v/edits.js";
import type { P2vPlan } from "../../p2v/plan.js";
import { formatBytes } from "../output/bytes.js";
import { printJson } from "../output/json.js";
import { printable } from "../output/printable.js";

export interface P2vReport {
  source: string;
  name: string;
  pass: "first" | "final";
  /** First pass: tar stream bytes; final pass: bytes rsync sent. */
  bytes: number;
  /** First pass: entries extracted; final pass: regular files rsync transferred. */
  files: number;
  deleted?: number;
  device: string;
  changes: string[];
  refused: string[];
  notes: string[];
  warnings: string[];
  domain: string | undefined;
  started: boolean;
}

export function printPlan(
  json: boolean,
  plan: P2vPlan,
  edits: readonly CopyEdit[],
  notes: readonly string[],
  domainFile: string,
  fingerprint: string,
): void {
  if (json) {
    printJson({
      event: "plan",
      plan,
      changes: edits.map((e) => e.change),
      notes,
      domainFile,
      hostKey: fingerprint,
    });
    return;
  }
  const lines = [
    `plan for ${plan.name} (dry run: nothing was changed; host key ${fingerprint})`,
    `  volume:   ${formatBytes(plan.sizeBytes)} (${formatBytes(plan.usedBytes)} used on the source), ${plan.fsType}`,
    `  domain:   ${plan.memoryMiB} MiB, ${plan.vcpus} vCPUs, console ${plan.consoleTty}, hostname ${plan.hostname}`,
    `  network:  ${plan.network ?? "none (no vif; --network NET or --keep-vlan)"}${plan.vlan ? ` (the source's ${plan.vlan.interface} is VLAN ${plan.vlan.id})` : ""}`,
    "  copy:",
    ...plan.copy.map((m) => `    ${m.mountPoint} (${m.device}, ${m.fsType})`),
    "  skip:",
    ...plan.skip.map((s) => `    ${s.mount.mountPoint} (${s.mount.fsType}): ${s.reason}`),
    "  changes in the copy:",
    ...edits.map((e) => `    ${e.change}`),
    ...notes.map((n) => `    ${n}`),
    ...plan.warnings.map((w) => `  warning: ${w}`),
    "  domain file:",
    ...domainFile
      .trimEnd()
      .split("\n")
      .map((l) => `    ${l}`),
  ];
  process.stdout.write(`${lines.map(printable).join("\n")}\n`);
}

export function printReport(json: boolean, report: P2vReport): void {
  if (json) {
    // One event per line, like the progress events before it (ndjson).
    process.stdout.write(`${JSON.stringify({ event: "done", report })}\n`);
    return;
  }
  const copied =
    report.pass === "first"
      ? `copied ${formatBytes(report.bytes)} (${report.files} files)`
      : `final pass: ${report.files} changed files (${formatBytes(report.bytes)}), ${report.deleted ?? 0} deleted`;
  const lines = [
    `${report.name}: ${copied} from ${report.source} into volume ${report.name} (${report.device})`,
    ...report.changes.map((c) => `  changed: ${c}`),
    ...report.refused.map((r) => `  NOT changed: ${r}`),
    ...report.notes.map((n) => `  ${n}`),
    ...report.warnings.map((w) => `warning: ${w}`),
    report.started
      ? `domain ${report.domain ?? report.name} started`
      : `domain ${report.domain ?? report.name} defined; start it with etherplane start ${report.name}`,
  ];
  process.stdout.write(`${lines.map(printable).join("\n")}\n`);
}
