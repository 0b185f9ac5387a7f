/**
 * Converging a host onto a network: observe (`ip -j -d link show`), plan (plan.ts), run the plan
 * through an `IpRunner`, observe again and check that nothing is left to do.
 *
 * Not serialised here: two applies racing on one host can both plan the same creation, and the
 * second then fails with `File exists`. The agent applies its networks one at a time.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import { parseIpLinkJson, type ObservedLink } from "./ip-link-json.js";
import type { CommandResult } from "../../host/command-runner.js";
import { createIpRunner, type IpRunner } from "./ip-runner.js";
import { planHostNetwork, planHostNetworkRemoval, type IpCommand } from "./plan.js";
import { validateHostNetworkSpec, type HostNetworkSpec } from "./spec.js";

const log = createLogger("net:host-network");

export interface HostNetworkIoOptions {
  /** Run in this named network namespace (`ip -n NS`); ignored when `runner` is given. */
  netns?: string;
  /** How to run `ip`; default `createIpRunner({ netns })`. */
  runner?: IpRunner;
}

export interface HostNetworkResult {
  /** The commands run, in order; [] when the host already matched. */
  applied: IpCommand[];
}

/** What a host whose kernel cannot make VLAN interfaces is told (after the network's name). */
export const NO_8021Q_MESSAGE =
  "the kernel has no 802.1q support (module 8021q): load it with `modprobe 8021q` or use a network without a VLAN id";

function runnerOf(options: HostNetworkIoOptions): IpRunner {
  return options.runner ?? createIpRunner({ netns: options.netns });
}

function show(command: IpCommand): string {
  return `ip ${command.join(" ")}`;
}

/** Every interface of the host (or namespace): ports and VLANs of others matter to the plan. */
export async function readObserved(options: HostNetworkIoOptions = {}): Promise<ObservedLink[]> {
  const result = await runnerOf(options)(["-j", "-d", "link", "show"]);
  if (result.code !== 0) {
    throw new EtherplaneError(
      "IO_ERROR",
      `ip -j -d link show failed (exit ${result.code}): ${result.stderr.trim()}`,
    );
  }
  return parseIpLinkJson(result.stdout);
}

/**
 * Why creating a VLAN interface failed for want of 8021q: iproute2 prints the kernel's extack
 * "Unknown device type" (rtnetlink finds no "vlan" link ops once request_module failed),
 * busybox only strerror(EOPNOTSUPP).
 */
function lacks8021q(command: IpCommand, result: CommandResult): boolean {
  const isVlanAdd = command[1] === "add" && command.includes("vlan");
  return isVlanAdd && /Unknown device type|Operation not supported/i.test(result.stderr);
}

async function runPlan(
  spec: HostNetworkSpec,
  commands: readonly IpCommand[],
  runner: IpRunner,
): Promise<IpCommand[]> {
  const applied: IpCommand[] = [];
  for (const command of commands) {
    const result = await runner(command);
    if (result.code !== 0) {
      const params = { network: spec.name, command: show(command), applied: applied.map(show) };
      if (lacks8021q(command, result)) {
        throw new EtherplaneError(
          "UNAVAILABLE",
          `network ${JSON.stringify(spec.name)}: ${NO_8021Q_MESSAGE}`,
          { params },
        );
      }
      throw new EtherplaneError(
        "IO_ERROR",
        `network ${JSON.stringify(spec.name)}: ${show(command)} failed (exit ${result.code}): ${result.stderr.trim()}` +
          (applied.length > 0 ? ` (after ${applied.map(show).join("; ")})` : ""),
        { params },
      );
    }
    applied.push(command);
    log.info("host network changed", { network: spec.name, command: show(command) });
  }
  return applied;
}

/** Makes the host carry `spec`, then checks it does; see plan.ts for what it will and won't do. */
export async function applyHostNetwork(
  spec: HostNetworkSpec,
  options: HostNetworkIoOptions = {},
): Promise<HostNetworkResult> {
  validateHostNetworkSpec(spec);
  const runner = runnerOf(options);
  const plan = planHostNetwork(spec, await readObserved({ runner }));
  if (plan.length === 0) return { applied: [] };
  const applied = await runPlan(spec, plan, runner);
  const left = planHostNetwork(spec, await readObserved({ runner }));
  if (left.length > 0) {
    throw new EtherplaneError(
      "IO_ERROR",
      `network ${JSON.stringify(spec.name)}: the host did not converge; still to do: ${left.map(show).join("; ")}`,
      { params: { network: spec.name, applied: applied.map(show), left: left.map(show) } },
    );
  }
  return { applied };
}

/** Takes `spec` off the host (its bridge and VLAN interface only), then checks they are gone. */
export async function removeHostNetwork(
  spec: HostNetworkSpec,
  options: HostNetworkIoOptions = {},
): Promise<HostNetworkResult> {
  validateHostNetworkSpec(spec);
  const runner = runnerOf(options);
  const plan = planHostNetworkRemoval(spec, await readObserved({ runner }));
  if (plan.length === 0) return { applied: [] };
  const applied = await runPlan(spec, plan, runner);
  const left = planHostNetworkRemoval(spec, await readObserved({ runner }));
  if (left.length > 0) {
    throw new EtherplaneError(
      "IO_ERROR",
      `network ${JSON.stringify(spec.name)}: removal left ${left.map(show).join("; ")} to do`,
      { params: { network: spec.name, applied: applied.map(show), left: left.map(show) } },
    );
  }
  return { applied };
}
