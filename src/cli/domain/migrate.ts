/**
 * `etherplane migrate NAME [HOST] [--live|--offline] [--no-wait]` (xl's `migrate`): moves a
 * running domain to HOST, or to the host placement picks. Live by default; --offline shuts the
 * guest down and starts it there. Follows the task's progress like other long tasks.
 */
import { parse, usageError } from "../args.js";
import { finishTask, openSession, sessionFlags } from "../cluster/session.js";
import { DomainTaskReply } from "../../api/replies.js";

const usage =
  "etherplane migrate NAME [HOST] [--live|--offline]\n  common: [--json] [--no-wait] [--controller URL] [--token-file FILE|--token -]";

export async function migrateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    { ...sessionFlags, live: { type: "boolean" }, offline: { type: "boolean" } },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const [name, host, ...rest] = positionals;
  if (!name || rest.length > 0)
    throw usageError("migrate: name one domain and at most one host", usage);
  if (values.live && values.offline)
    throw usageError("migrate: --live or --offline, not both", usage);
  const session = await openSession(values);
  const reply = await session.client.request(
    "POST",
    `/api/v1/domains/${encodeURIComponent(name)}/migrate`,
    DomainTaskReply,
    { ...(host === undefined ? {} : { host }), live: values.offline !== true },
  );
  await finishTask(session, reply, (task) =>
    task.state === "succeeded" ? task.message : `${name} migrated`,
  );
}
