/**
 * `etherplane domain import|export|edit|show|delete`: a domain's xl.cfg file in and out of the
 * controller. Import says what it changed and what will stop the domain from starting.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import { parse, stringList, usageError } from "../args.js";
import { openSession, sessionFlags, type Session } from "../cluster/session.js";
import { printJson } from "../output/json.js";
import { editFilePath, openEditFile } from "./edit-file.js";
import {
  DomainImportResponse,
  DomainWithAvailabilityReply,
  NoContent,
  type DomainView,
} from "../../api/replies.js";

const usage = `etherplane domain COMMAND ...
  import FILE...        read xl.cfg/xm domain files into the cluster (the files stay as written)
  export NAME [-o FILE] write the domain's file (xl.cfg syntax) to stdout or FILE
  edit NAME             change the domain's file in $EDITOR (takes effect at the next start)
  show NAME | delete NAME
  set NAME [--anti-affinity GROUP] [--pin HOST[,HOST]] [--ha on|off|auto] [--ha-priority N]
                        etherplane's own settings: placement, and high availability
                        (domain set --help)
  import and edit: [--allow-unsafe KEY,...] (admin: let the file use these keys the domain
                        policy refuses, e.g. pci,vif; audited)
  common: [--json] [--controller URL] [--token-file FILE|--token -]`;

export interface ImportReply {
  domain: DomainView;
  changes: string[];
  warnings: string[];
}

const enc = encodeURIComponent;
/** A domain file is a few hundred bytes; refuse to read a wrong, huge file into memory. */
const FILE_BYTES_MAX = 256 * 1024;

export function readDomainFile(file: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (cause) {
    throw new EtherplaneError("NOT_FOUND", `${file}: ${errorMessage(cause)}`, { cause });
  }
  if (!stat.isFile()) throw new EtherplaneError("INVALID_ARGUMENT", `${file} is not a file`);
  if (stat.size > FILE_BYTES_MAX)
    throw new EtherplaneError(
      "INVALID_CONFIG",
      `${file} is ${stat.size} bytes; a domain file holds at most ${FILE_BYTES_MAX}`,
    );
  return fs.readFileSync(file, "utf8");
}

export function reportImport(reply: ImportReply, verb: string): void {
  for (const change of reply.changes) process.stderr.write(`  ${change}\n`);
  for (const warning of reply.warnings) process.stderr.write(`warning: ${warning}\n`);
  process.stdout.write(`${verb} ${reply.domain.name}\n`);
}

export async function importFiles(
  session: Session,
  files: readonly string[],
  allowUnsafe: readonly string[] = [],
): Promise<ImportReply[]> {
  const replies: ImportReply[] = [];
  for (const file of files) {
    const config = readDomainFile(file);
    const reply = await session.client.request("POST", "/api/v1/domains", DomainImportResponse, {
      config,
      source: path.basename(file),
      ...(allowUnsafe.length > 0 ? { allowUnsafe } : {}),
    });
    replies.push(reply);
    if (!session.json) reportImport(reply, `imported ${file} as`);
  }
  return replies;
}

async function edit(session: Session, name: string, allowUnsafe: string[]): Promise<void> {
  const { domain } = await session.client.request(
    "GET",
    `/api/v1/domains/${enc(name)}`,
    DomainWithAvailabilityReply,
  );
  const file = editFilePath(domain.id);
  const { resumed } = openEditFile(file, domain.config);
  if (resumed)
    process.stderr.write(
      `resuming your earlier edit of ${domain.name} kept in ${file} (delete it to start over)\n`,
    );
  let keep = false;
  try {
    const editor = process.env["VISUAL"] ?? process.env["EDITOR"] ?? "vi";
    // Like `crontab -e`: the editor is a shell command line, it may carry its own arguments.
    const result = spawnSync("/bin/sh", ["-c", `${editor} "$1"`, "sh", file], { stdio: "inherit" });
    if (result.status !== 0) {
      keep = resumed;
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `the editor (${editor}) failed; nothing changed`,
      );
    }
    const config = fs.readFileSync(file, "utf8");
    if (config === domain.config) {
      process.stdout.write(`${domain.name} unchanged\n`);
      return;
    }
    try {
      const reply = await session.client.request(
        "PUT",
        `/api/v1/domains/${enc(domain.id)}`,
        DomainImportResponse,
        {
          config,
          source: `${domain.name}.cfg`,
          generation: domain.generation,
          ...(allowUnsafe.length > 0 ? { allowUnsafe } : {}),
        },
      );
      if (session.json) printJson(reply);
      else reportImport(reply, "changed");
    } catch (error) {
      // Keep the administrator's work: the edited file stays for another try.
      keep = true;
      throw new EtherplaneError(
        error instanceof EtherplaneError ? error.code : "INVALID_CONFIG",
        `${errorMessage(error)}\nnothing changed; your edit is kept in ${file} ` +
          `(etherplane domain edit ${domain.name} opens it again)`,
        { cause: error },
      );
    }
  } finally {
    if (!keep) fs.rmSync(file, { force: true });
  }
}

export async function domainCommand(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  // `set` has flags of its own (one table, easy to extend): domain-set.ts.
  if (command === "set") return (await import("./domain-set.js")).domainSetCommand(rest);
  const { values, positionals } = parse(
    rest,
    {
      ...sessionFlags,
      output: { type: "string", short: "o" },
      "allow-unsafe": { type: "string", multiple: true },
    },
    usage,
  );
  if (!command || command.startsWith("-") || values.help)
    return void process.stdout.write(`usage: ${usage}\n`);
  const session = await openSession(values);
  // --allow-unsafe pci,vif or --allow-unsafe pci --allow-unsafe vif
  const allowUnsafe = stringList(values["allow-unsafe"])
    .flatMap((keys) => keys.split(","))
    .map((key) => key.trim())
    .filter((key) => key !== "");
  const name = (): string => {
    const first = positionals[0];
    if (!first) throw usageError(`domain ${command}: name the domain`, usage);
    return first;
  };
  switch (command) {
    case "import": {
      if (positionals.length === 0)
        throw usageError("domain import: give one or more files", usage);
      const replies = await importFiles(session, positionals, allowUnsafe);
      if (session.json) printJson({ imported: replies });
      return;
    }
    case "export": {
      const { domain } = await session.client.request(
        "GET",
        `/api/v1/domains/${enc(name())}`,
        DomainWithAvailabilityReply,
      );
      if (values.output) {
        fs.writeFileSync(values.output, domain.config);
        process.stderr.write(`wrote ${domain.name} to ${values.output}\n`);
      } else process.stdout.write(domain.config);
      return;
    }
    case "edit":
      return edit(session, name(), allowUnsafe);
    case "show": {
      const { domain } = await session.client.request(
        "GET",
        `/api/v1/domains/${enc(name())}`,
        DomainWithAvailabilityReply,
      );
      if (session.json) return printJson({ domain });
      const { config: _config, ...rest } = domain;
      const lines = Object.entries(rest).map(
        ([k, v]) => `${k.padEnd(18)} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`,
      );
      return void process.stdout.write(`${lines.join("\n")}\n`);
    }
    case "delete": {
      await session.client.request("DELETE", `/api/v1/domains/${enc(name())}`, NoContent);
      return void process.stdout.write(`deleted ${name()} (its volumes stay)\n`);
    }
    default:
      throw usageError(`unknown domain command "${command}"`, usage);
  }
}
