/**
 * `etherplane place NAME`: a dry run of placement for a domain: every host with why it fits or
 * not, and the one a start would choose. Nothing changes (viewer and up).
 */
import type { PlacementPlan } from "../../cluster/controller/placement.js";
import { parse, usageError } from "../args.js";
import { printJson } from "../output/json.js";
import { printable } from "../output/printable.js";
import { formatTable } from "../output/table.js";
import { openSession, sessionFlags } from "./session.js";
import { PlacementReply } from "../../api/replies.js";

const usage = "etherplane place NAME [--json]   (a dry run: where a start would put NAME, and why)";

export function formatPlan(plan: PlacementPlan): string {
  const rows = plan.hosts.map((h) => [
    h.hostId === plan.chosenHostId ? `* ${h.hostName}` : `  ${h.hostName}`,
    h.fits ? "yes" : "no",
    h.score === null ? "-" : String(h.score),
    printable(h.summary),
  ]);
  const table = formatTable(
    [
      { header: "  HOST" },
      { header: "FITS" },
      { header: "SCORE", align: "right" },
      { header: "WHY" },
    ],
    rows,
  );
  const problem = plan.problem ? `\n${printable(plan.problem)}` : "";
  const verdict = plan.chosenHostId
    ? `${plan.domain} would start on ${printable(plan.reason)}`
    : `${plan.domain}: ${printable(plan.reason)}`;
  return `${table}${problem}\n${verdict}`;
}

export async function placeCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, sessionFlags, usage);
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const name = positionals[0];
  if (!name || positionals.length > 1) throw usageError("place: name one domain", usage);
  const session = await openSession(values);
  const { plan } = await session.client.request(
    "GET",
    `/api/v1/domains/${encodeURIComponent(name)}/placement`,
    PlacementReply,
  );
  if (session.json) return printJson({ plan });
  process.stdout.write(`${formatPlan(plan)}\n`);
}
