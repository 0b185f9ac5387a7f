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

/**
 * What to check when nothing answered: a masked export does not answer other initiators at all
 * (AoEr11 3.3), so silence is as often the target's access list as the network.
 */
export function noTargetHint(ifnames: readonly string[], listenMs: number): string {
  const on = ifnames.join(", ");
  return (
    `no AoE target answered on ${on} within ${listenMs} ms. If a target runs:\n` +
    `  - run \`etherplane aoe stats\` on the target host: an export with a MAC mask list answers only the MACs on it, and a reserved one refuses I/O to others (clear stale ones with \`aoe serve --reset-state S.L\`);\n` +
    `  - check that ${on} is up and on the target's Ethernet segment (\`ip link show\`), and that its MTU matches the target's interface;\n` +
    `  - listen longer with --timeout MS.`
  );
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
    // On stderr: stdout stays empty (or []) for scripts, as before.
    if (targets.length === 0)
      process.stderr.write(
        noTargetHint(
          initiator.sockets.map((socket) => socket.ifname),
          listenMs,
        ) + "\n",
      );
  } finally {
    initiator.close();
  }
}
