/**
 * How the qemu driver runs host tools (ip, mkfifo, qemu-system-x86_64): the host's one command
 * runner (src/host/command-runner.ts), optionally inside the driver's named network namespace
 * (`ip netns exec NS ...`, for tests that keep every tap and bridge inside a namespace of their
 * own). Never throws for a non-zero exit: the caller reads the code and stderr.
 */
import { createCommandRunner, type CommandResult } from "../../host/command-runner.js";

export type { CommandResult };

export interface CommandContext {
  netns: string | undefined;
}

const missingHint = "install it (qemu-system-x86, iproute2, coreutils) or give its full path";

export function runHostCommand(
  context: CommandContext,
  argv: readonly string[],
  timeoutMs: number,
): Promise<CommandResult> {
  return createCommandRunner({ netns: context.netns, missingHint })(argv, { timeoutMs });
}
