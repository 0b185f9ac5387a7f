#!/usr/bin/env node
/**
 * The `etherplane` command: one CLI, subcommands per area. The entry point alone decides where
 * logs go (stderr, as text or JSON lines: log-format.ts) and turns errors into exit codes
 * (exit-codes.ts).
 */
import { logSink, setLogSink } from "../foundation/log.js";
import type { LifecycleVerb } from "./domain/lifecycle.js";
import { exitCodeFor, messageFor } from "./exit-codes.js";
import { LOG_FORMAT_ENV, takeLogFormat } from "./log-format.js";

type Command = (args: string[]) => Promise<void> | void;

/**
 * Each command's module is loaded only when it runs: an agent or a one-shot command starts
 * without compiling every other command (seconds in a Xen dom0 under TCG).
 */
const lazy =
  <M>(load: () => Promise<M>, pick: (module: M) => Command): Command =>
  async (args) =>
    pick(await load())(args);

const volume = () => import("./cluster/volume.js");
const records = () => import("./cluster/records.js");
const run = () => import("./cluster/run.js");
const lifecycle = (verb: LifecycleVerb) =>
  lazy(
    () => import("./domain/lifecycle.js"),
    (m) => m.lifecycleCommand(verb),
  );

/** Commands of their own, and areas whose first argument is the sub-command (parsed by them). */
const commands: Record<string, { summary: string; run: Command }> = {
  up: {
    summary: "start a controller and an agent on this machine (the quick start)",
    run: lazy(run, (m) => m.upCommand),
  },
  controller: {
    summary: "run the controller (REST API, state in SQLite)",
    run: lazy(run, (m) => m.controllerCommand),
  },
  agent: {
    summary: "run the agent of a host that joins a controller",
    run: lazy(run, (m) => m.agentCommand),
  },
  login: {
    summary: "save the controller URL and a token for the CLI",
    run: lazy(run, (m) => m.loginCommand),
  },
  volume: {
    summary:
      "volumes: create|make|list|show|resize|snapshot|clone|delete|export|unexport|allow|deny",
    run: lazy(volume, (m) => m.volumeCommand),
  },
  task: { summary: "tasks: list|show", run: lazy(records, (m) => m.taskCommand) },
  host: {
    summary: "hosts: list|maintenance|activate",
    run: lazy(records, (m) => m.hostCommand),
  },
  place: {
    summary: "place NAME: a dry run of placement (each host, why it fits or not)",
    run: lazy(
      () => import("./cluster/place.js"),
      (m) => m.placeCommand,
    ),
  },
  events: {
    summary: "the cluster's events (--follow, --json, --since, --limit)",
    run: lazy(
      () => import("./cluster/events.js"),
      (m) => m.eventsCommand,
    ),
  },
  settings: {
    summary: "the cluster's settings: list | set KEY VALUE (overcommit)",
    run: lazy(
      () => import("./cluster/cluster-settings.js"),
      (m) => m.settingsCommand,
    ),
  },
  pool: { summary: "storage pools: list|create", run: lazy(records, (m) => m.poolCommand) },
  token: { summary: "API tokens: create|list|revoke", run: lazy(records, (m) => m.tokenCommand) },
  audit: {
    summary: "the audit log (who did what, when, with what result)",
    run: lazy(
      () => import("./cluster/audit.js"),
      (m) => m.auditCommand,
    ),
  },
  network: {
    summary: "host networks (bridges, uplinks, VLANs): create|list|delete",
    run: lazy(
      () => import("./cluster/network.js"),
      (m) => m.networkCommand,
    ),
  },
  domain: {
    summary: "domain files: import|export|edit|show|delete; set (placement settings)",
    run: lazy(
      () => import("./domain/domain-files.js"),
      (m) => m.domainCommand,
    ),
  },
  list: {
    summary: "list domains, in xl list's layout (--long, --json)",
    run: lazy(
      () => import("./domain/list.js"),
      (m) => m.listCommand,
    ),
  },
  create: {
    summary: "create FILE|NAME: import a domain file and start it",
    run: lifecycle("create"),
  },
  start: { summary: "start a domain", run: lifecycle("start") },
  shutdown: { summary: "power a domain off gracefully", run: lifecycle("shutdown") },
  reboot: { summary: "reboot a domain", run: lifecycle("reboot") },
  destroy: { summary: "stop a domain at once", run: lifecycle("destroy") },
  pause: { summary: "pause a domain", run: lifecycle("pause") },
  migrate: {
    summary: "migrate NAME [HOST]: move a running domain to another host (live; --offline)",
    run: lazy(
      () => import("./domain/migrate.js"),
      (m) => m.migrateCommand,
    ),
  },
  unpause: { summary: "unpause a domain", run: lifecycle("unpause") },
  p2v: {
    summary: "move a running Linux server into a domain on a new volume (over SSH)",
    run: lazy(
      () => import("./p2v/p2v.js"),
      (m) => m.p2vCommand,
    ),
  },
  console: {
    summary: "attach to a domain's serial console (^] leaves)",
    run: lazy(
      () => import("./domain/console.js"),
      (m) => m.consoleCommand,
    ),
  },
};

const aoe = <K extends string>(file: string, name: K) =>
  lazy(
    () => import(file) as Promise<Record<K, Command>>,
    (m) => m[name],
  );

const areas: Record<
  string,
  { summary: string; commands: Record<string, { summary: string; run: Command }> }
> = {
  aoe: {
    summary: "ATA-over-Ethernet target and initiator",
    commands: {
      serve: {
        summary: "export files or block devices as AoE targets",
        run: aoe("./aoe/serve.js", "serveCommand"),
      },
      discover: {
        summary: "list the AoE targets on the network (like aoe-stat)",
        run: aoe("./aoe/discover.js", "discoverCommand"),
      },
      read: {
        summary: "read an AoE volume to stdout",
        run: aoe("./aoe/read-write.js", "readCommand"),
      },
      write: {
        summary: "write stdin to an AoE volume",
        run: aoe("./aoe/read-write.js", "writeCommand"),
      },
      nbd: {
        summary: "serve an AoE volume over NBD on a Unix socket",
        run: aoe("./aoe/nbd.js", "nbdCommand"),
      },
      stats: {
        summary: "show a running target's counters",
        run: aoe("./aoe/stats.js", "statsCommand"),
      },
    },
  },
};

function help(): string {
  const lines = [
    "usage: etherplane [--log-format text|json] COMMAND [options]   (COMMAND --help for its options)",
    "",
  ];
  for (const [name, command] of Object.entries(commands))
    lines.push(`  etherplane ${name.padEnd(15)} ${command.summary}`);
  lines.push("");
  for (const [area, { summary, commands }] of Object.entries(areas)) {
    lines.push(`${area}: ${summary}`);
    for (const [name, command] of Object.entries(commands))
      lines.push(`  etherplane ${area} ${name.padEnd(10)} ${command.summary}`);
  }
  return lines.join("\n");
}

async function main(allArgs: string[]): Promise<number> {
  const { argv, format } = takeLogFormat(allArgs, process.env);
  setLogSink(logSink(format));
  process.env[LOG_FORMAT_ENV] = format;
  // Disk I/O runs on libuv's thread pool; its default of 4 threads caps concurrent I/O. It is
  // created on first use, so setting this before any command runs takes effect.
  process.env["UV_THREADPOOL_SIZE"] ??= "16";
  const [areaName, commandName, ...rest] = argv;
  if (!areaName || areaName === "--help" || areaName === "-h" || areaName === "help") {
    process.stdout.write(help() + "\n");
    return areaName ? 0 : 2;
  }
  const own = commands[areaName];
  if (own) {
    await own.run(argv.slice(1));
    return 0;
  }
  const area = areas[areaName];
  const command = area && commandName ? area.commands[commandName] : undefined;
  if (!command) {
    process.stderr.write(
      `etherplane: unknown command "${argv.slice(0, 2).join(" ")}"\n${help()}\n`,
    );
    return 2;
  }
  await command.run(rest);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(messageFor(error) + "\n");
    process.exitCode = exitCodeFor(error);
  },
);
