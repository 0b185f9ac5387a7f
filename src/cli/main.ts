#!/usr/bin/env node
/**
 * The `etherplane` command: one CLI, subcommands per area. The entry point alone decides where
 * logs go (stderr) and turns errors into exit codes (exit-codes.ts).
 */
import { discoverCommand } from "./aoe/discover.js";
import { nbdCommand } from "./aoe/nbd.js";
import { readCommand, writeCommand } from "./aoe/read-write.js";
import { serveCommand } from "./aoe/serve.js";
import { statsCommand } from "./aoe/stats.js";
import { volumeCommand } from "./cluster/volume.js";
import { hostCommand, poolCommand, taskCommand, tokenCommand } from "./cluster/records.js";
import { agentCommand, controllerCommand, loginCommand, upCommand } from "./cluster/run.js";
import { networkCommand } from "./cluster/network.js";
import { consoleCommand } from "./domain/console.js";
import { domainCommand } from "./domain/domain-files.js";
import { lifecycleCommand } from "./domain/lifecycle.js";
import { listCommand } from "./domain/list.js";
import { exitCodeFor, messageFor } from "./exit-codes.js";

type Command = (args: string[]) => Promise<void> | void;

/** Commands of their own, and areas whose first argument is the sub-command (parsed by them). */
const commands: Record<string, { summary: string; run: Command }> = {
  up: {
    summary: "start a controller and an agent on this machine (the quick start)",
    run: upCommand,
  },
  controller: { summary: "run the controller (REST API, state in SQLite)", run: controllerCommand },
  agent: { summary: "run the agent of a host that joins a controller", run: agentCommand },
  login: { summary: "save the controller URL and a token for the CLI", run: loginCommand },
  volume: {
    summary:
      "volumes: create|make|list|show|resize|snapshot|clone|delete|export|unexport|allow|deny",
    run: volumeCommand,
  },
  task: { summary: "tasks: list|show", run: taskCommand },
  host: { summary: "hosts: list", run: hostCommand },
  pool: { summary: "storage pools: list|create", run: poolCommand },
  token: { summary: "API tokens: create|list|revoke", run: tokenCommand },
  network: {
    summary: "host networks (bridges, uplinks, VLANs): create|list|delete",
    run: networkCommand,
  },
  domain: { summary: "domain files: import|export|edit|show|delete", run: domainCommand },
  list: { summary: "list domains, in xl list's layout (--long, --json)", run: listCommand },
  create: {
    summary: "create FILE|NAME: import a domain file and start it",
    run: lifecycleCommand("create"),
  },
  start: { summary: "start a domain", run: lifecycleCommand("start") },
  shutdown: { summary: "power a domain off gracefully", run: lifecycleCommand("shutdown") },
  reboot: { summary: "reboot a domain", run: lifecycleCommand("reboot") },
  destroy: { summary: "stop a domain at once", run: lifecycleCommand("destroy") },
  pause: { summary: "pause a domain", run: lifecycleCommand("pause") },
  unpause: { summary: "unpause a domain", run: lifecycleCommand("unpause") },
  console: { summary: "attach to a domain's serial console (^] leaves)", run: consoleCommand },
};

const areas: Record<
  string,
  { summary: string; commands: Record<string, { summary: string; run: Command }> }
> = {
  aoe: {
    summary: "ATA-over-Ethernet target and initiator",
    commands: {
      serve: { summary: "export files or block devices as AoE targets", run: serveCommand },
      discover: {
        summary: "list the AoE targets on the network (like aoe-stat)",
        run: discoverCommand,
      },
      read: { summary: "read an AoE volume to stdout", run: readCommand },
      write: { summary: "write stdin to an AoE volume", run: writeCommand },
      nbd: { summary: "serve an AoE volume over NBD on a Unix socket", run: nbdCommand },
      stats: { summary: "show a running target's counters", run: statsCommand },
    },
  },
};

function help(): string {
  const lines = ["usage: etherplane COMMAND [options]   (COMMAND --help for its options)", ""];
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

async function main(argv: string[]): Promise<number> {
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
