/**
 * The host side of a guest's vifs: one tap per vif, named like Xen's netback interface
 * `vif<domid>.<index>` (so tools and the agent see the same names under both hypervisors; at
 * most 15 characters, IFNAMSIZ - 1), made persistent with `ip tuntap`, given the bridge's MTU,
 * enslaved to the bridge and up BEFORE QEMU opens it: the port forwards by the time the guest
 * sees carrier, so its first frames (AoE discovery broadcasts) are not lost.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { IFNAME_BYTES_MAX } from "../../net/ifname.js";
import { runHostCommand, type CommandContext } from "./host-command.js";

const ipTimeoutMs = 10_000;
const tapDeleteTries = 20;
const tapDeleteRetryMs = 100;

export function tapName(domid: number, vifIndex: number): string {
  const name = `vif${domid}.${vifIndex}`;
  if (name.length > IFNAME_BYTES_MAX) throw new RangeError(`tap name ${name} is too long`);
  return name;
}

export interface BridgeInfo {
  name: string;
  mtu: number;
}

/** Reads `ip -j -d link show` output: the MTU of `name` when it is a Linux bridge. */
export function parseBridgeShow(name: string, json: string): BridgeInfo | string {
  let links: unknown;
  try {
    links = JSON.parse(json);
  } catch {
    return `ip -j link show ${name}: output is not JSON`;
  }
  const link = Array.isArray(links) ? (links[0] as Record<string, unknown> | undefined) : undefined;
  if (!link || link["ifname"] !== name)
    return `ip -j link show ${name}: no such link in the output`;
  const info = link["linkinfo"] as Record<string, unknown> | undefined;
  if (info?.["info_kind"] !== "bridge") return `${name} is not a bridge`;
  const mtu = link["mtu"];
  if (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    return `${name} has no valid MTU`;
  }
  return { name, mtu };
}

/** The bridge, or UNAVAILABLE naming what is wrong (missing, not a bridge). */
export async function findBridge(context: CommandContext, name: string): Promise<BridgeInfo> {
  const result = await runHostCommand(
    context,
    ["ip", "-j", "-d", "link", "show", "dev", name],
    ipTimeoutMs,
  );
  if (result.code !== 0) {
    const missing = /does not exist|Cannot find device/.test(result.stderr);
    throw new EtherplaneError(
      "UNAVAILABLE",
      missing
        ? `bridge ${name} does not exist on this host: create it (or fix the vif's bridge=) first`
        : `cannot read bridge ${name}: ${result.stderr.trim()}`,
      { params: { bridge: name } },
    );
  }
  const bridge = parseBridgeShow(name, result.stdout);
  if (typeof bridge === "string") {
    throw new EtherplaneError("UNAVAILABLE", bridge, { params: { bridge: name } });
  }
  return bridge;
}

async function ip(context: CommandContext, args: readonly string[]): Promise<void> {
  const result = await runHostCommand(context, ["ip", ...args], ipTimeoutMs);
  if (result.code !== 0) {
    throw new EtherplaneError("IO_ERROR", `ip ${args.join(" ")}: ${result.stderr.trim()}`, {
      params: { args },
    });
  }
}

export async function addTap(
  context: CommandContext,
  tap: string,
  bridge: BridgeInfo,
): Promise<void> {
  await ip(context, ["tuntap", "add", "dev", tap, "mode", "tap"]);
  await ip(context, [
    "link",
    "set",
    "dev",
    tap,
    "mtu",
    String(bridge.mtu),
    "master",
    bridge.name,
    "up",
  ]);
}

/** Deletes a tap; absent is fine. Retries while a dying QEMU still holds it. */
export async function deleteTap(context: CommandContext, tap: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const result = await runHostCommand(context, ["ip", "link", "del", "dev", tap], ipTimeoutMs);
    if (result.code === 0 || /Cannot find device|does not exist/.test(result.stderr)) return;
    if (attempt >= tapDeleteTries) {
      throw new EtherplaneError("IO_ERROR", `ip link del ${tap}: ${result.stderr.trim()}`, {
        params: { tap },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, tapDeleteRetryMs));
  }
}
