/** `etherplane aoe discover`: the AoE targets on the segment, one line each, as `aoe-stat` prints them. */
import type { DiscoveredTarget } from "../../aoe/initiator/discovery.js";
import { parse, stringList, usageError } from "../args.js";
import { openInitiator } from "./initiator-sockets.js";

const usage = "etherplane aoe discover [--iface IF ...] [--timeout MS] [--json]";

/** `e1.0  0.067GB  veth0 1024  up`: device, decimal GB (3 decimals), interfaces, payload bytes, state. */
export function formatAoeStat(targets: readonly DiscoveredTarget[]): string {
  return targets
    .map((target) => {
      const device = `e${target.shelf}.${target.slot}`;
      const gb = `${(((target.identify?.sectors ?? 0) * 512) / 1e9).toFixed(3)}GB`;
      const ifnames = [...new Set(target.paths.map((p) => p.ifname))].join(",");
      const payload = Math.min(...target.paths.map((p) => p.sectorsMax)) * 512;
      return `${device.padStart(10)} ${gb.padStart(15)}  ${ifnames} ${payload}  ${target.state}`;
    })
    .join("\n");
}

export async function discoverCommand(args: string[]): Promise<void> {
  const { values } = parse(
    args,
    {
      iface: { type: "string", short: "i", multiple: true },
      timeout: { type: "string" },
      json: { type: "boolean" },
    },
    usage,
  );
  if (values.help) {
    process.stdout.write(`usage: ${usage}\n`);
    return;
  }
  const listenMs = values.timeout === undefined ? 1000 : Number(values.timeout);
  if (!Number.isInteger(listenMs) || listenMs < 1 || listenMs > 60_000) {
    throw usageError(`--timeout ${values.timeout}: give milliseconds, 1-60000`, usage);
  }
  const initiator = openInitiator(stringList(values.iface));
  try {
    const targets = await initiator.discover({ listenMs });
    if (values.json) process.stdout.write(JSON.stringify(targets, null, 2) + "\n");
    else if (targets.length > 0) process.stdout.write(formatAoeStat(targets) + "\n");
  } finally {
    initiator.close();
  }
}
