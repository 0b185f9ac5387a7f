/** `etherplane audit`: the audit log, oldest first, every page (admin tokens only). */
import { parse } from "../args.js";
import { requestAllPages } from "../client/pages.js";
import { printJson } from "../output/json.js";
import { formatTable } from "../output/table.js";
import { openSession, sessionFlags } from "./session.js";
import { AuditListReply } from "../../api/replies.js";

export async function auditCommand(args: string[]): Promise<void> {
  const usage = "etherplane audit [--json]   (the whole audit log, oldest first)";
  const { values } = parse(args, sessionFlags, usage);
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const session = await openSession(values);
  const reply = await requestAllPages(session.client, "/api/v1/audit", "entries", AuditListReply, {
    startCursor: "0",
  });
  if (session.json) return printJson(reply);
  const rows = reply.entries.map((e) => [
    new Date(e.timeMs).toISOString().replace("T", " ").slice(0, 19),
    e.actor,
    e.role,
    `${e.method} ${e.path}`,
    String(e.status),
    [e.subject, e.detail].filter((x) => x !== null).join(": ") || "-",
  ]);
  process.stdout.write(
    `${formatTable(
      [
        { header: "TIME" },
        { header: "ACTOR" },
        { header: "ROLE" },
        { header: "CALL" },
        { header: "STATUS", align: "right" },
        { header: "WHAT" },
      ],
      rows,
    )}\n(${reply.refusedUnauthenticated} calls without a valid token refused since the controller started)\n`,
  );
}
