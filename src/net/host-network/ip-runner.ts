/**
 * Runs iproute2's `ip`, the only I/O of host networks: apply.ts takes an `IpRunner`, so tests can
 * pass one that records or refuses, and a caller can run in a network namespace (`ip -n NS`).
 * The process itself is run by the host's one command runner (src/host/command-runner.ts).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import {
  checkNetnsName,
  createCommandRunner,
  type CommandResult,
} from "../../host/command-runner.js";

/** Runs `ip ...args`; resolves with the result even when `ip` fails (the caller classifies). */
export type IpRunner = (args: readonly string[]) => Promise<CommandResult>;

export interface IpRunnerOptions {
  /** A named network namespace (`ip netns add NAME`): commands run as `ip -n NAME ...`. */
  netns?: string;
  /** Per command; default 10 s. `ip` only talks netlink, so a slow one is a stuck kernel. */
  timeoutMs?: number;
  /** The `ip` binary; default `ip` from PATH. */
  ipPath?: string;
}

const timeoutMsDefault = 10_000;
const timeoutMsMax = 120_000;
/** A whole `ip -j -d link show` of a busy host stays far below this. */
const outputBytesMax = 32 * 1024 * 1024;

export function createIpRunner(options: IpRunnerOptions = {}): IpRunner {
  const timeoutMs = options.timeoutMs ?? timeoutMsDefault;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > timeoutMsMax) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `timeoutMs ${timeoutMs} is outside 100..${timeoutMsMax}`,
    );
  }
  const netns = options.netns;
  if (netns !== undefined) checkNetnsName(netns);
  const run = createCommandRunner({
    timeoutMsDefault: timeoutMs,
    outputBytesMax,
    missingHint: "install iproute2 (apt-get install iproute2)",
  });
  const ip = options.ipPath ?? "ip";
  const prefix = netns === undefined ? [] : ["-n", netns];
  return (args) => run([ip, ...prefix, ...args]);
}
