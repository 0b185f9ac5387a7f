/**
 * The xl-style lifecycle commands: `etherplane create FILE|NAME`, `start`, `shutdown`, `reboot`,
 * `destroy`, `pause`, `unpause`. Each asks the controller and, unless --no-wait, follows the task
 * until the host's agent has done it.
 */
import * as fs from "node:fs";
import { EtherplaneError } from "../../foundation/errors.js";
import { parse, usageError } from "../args.js";
import { finishTask, openSession, sessionFlags, type Session } from "../cluster/session.js";
import { domainName, parseXlConfig } from "../../domain/xl-cfg/index.js";
import { importFiles, readDomainFile } from "./domain-files.js";
import { requestAllPages } from "../client/pages.js";
import { DomainListReply, DomainTaskReply } from "../../api/replies.js";

const enc = encodeURIComponent;

export type LifecycleVerb =
  "create" | "start" | "shutdown" | "reboot" | "destroy" | "pause" | "unpause";

const summaries: Record<LifecycleVerb, string> = {
  create: "create FILE|NAME [--host H]: import the domain file (if it is one) and start it",
  start: "start NAME [--host H]",
  shutdown: "shutdown NAME [--timeout S]: power off gracefully, destroy after S seconds (60)",
  reboot: "reboot NAME",
  destroy: "destroy NAME: stop at once, like pulling the plug",
  pause: "pause NAME",
  unpause: "unpause NAME",
};

const done: Record<LifecycleVerb, string> = {
  create: "started",
  start: "started",
  shutdown: "shut down",
  reboot: "rebooted",
  destroy: "destroyed",
  pause: "paused",
  unpause: "unpaused",
};

/**
 * `create FILE`: the domain the file defines, imported first unless it is there already with
 * this very file (import may have appended allocated MACs to it, nothing else).
 */
async function domainForCreate(session: Session, ref: string): Promise<string> {
  if (!fs.existsSync(ref)) return ref;
  const config = readDomainFile(ref);
  const name = domainName(parseXlConfig(config, ref));
  const { domains } = await requestAllPages(
    session.client,
    "/api/v1/domains",
    "domains",
    DomainListReply,
  );
  const existing = domains.find((d) => d.name === name);
  if (existing && existing.config.startsWith(config)) return existing.name;
  if (existing)
    throw new EtherplaneError(
      "CONFLICT",
      `domain ${name} exists with another file: change it with etherplane domain edit ${name}, or start it as it is with etherplane start ${name}`,
    );
  const [reply] = await importFiles(session, [ref]);
  if (!reply) throw new EtherplaneError("INVALID_CONFIG", `${ref} holds no domain`);
  return reply.domain.name;
}

export function lifecycleCommand(verb: LifecycleVerb) {
  const usage = `etherplane ${summaries[verb]}\n  common: [--json] [--no-wait] [--controller URL] [--token-file FILE|--token -]`;
  return async (args: string[]): Promise<void> => {
    const { values, positionals } = parse(
      args,
      { ...sessionFlags, host: { type: "string" }, timeout: { type: "string" } },
      usage,
    );
    if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
    const ref = positionals[0];
    if (!ref || positionals.length > 1)
      throw usageError(`${verb}: name one domain${verb === "create" ? " or file" : ""}`, usage);
    const session = await openSession(values);
    const name = verb === "create" ? await domainForCreate(session, ref) : ref;
    const action = verb === "create" ? "start" : verb;
    let body: Record<string, unknown> | undefined;
    if (action === "start") body = values.host ? { host: values.host } : {};
    if (action === "shutdown") {
      const timeoutS = values.timeout === undefined ? undefined : Number(values.timeout);
      if (timeoutS !== undefined && !(Number.isInteger(timeoutS) && timeoutS >= 0))
        throw usageError(
          `--timeout ${values.timeout}: give whole seconds, e.g. --timeout 120`,
          usage,
        );
      body = timeoutS === undefined ? {} : { timeoutS };
    }
    const reply = await session.client.request(
      "POST",
      `/api/v1/domains/${enc(name)}/${action}`,
      DomainTaskReply,
      body,
    );
    await finishTask(session, reply, (task) =>
      task.state === "succeeded" ? task.message : `${name} ${done[verb]}`,
    );
  };
}
