/**
 * Which QEMU the driver runs: `qemu-system-x86_64 --version`, parsed once per driver instance
 * (a failed probe is retried on the next call).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { runHostCommand } from "./host-command.js";

const versionTimeoutMs = 10_000;

/** "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" -> "7.2.22". */
export function parseQemuVersion(text: string): string | undefined {
  return /QEMU emulator version (\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}

/** The version of `qemuBinary`; UNAVAILABLE when it does not run or says something else. */
export async function probeQemuVersion(qemuBinary: string): Promise<string> {
  const result = await runHostCommand(
    { netns: undefined },
    [qemuBinary, "--version"],
    versionTimeoutMs,
  );
  const version = parseQemuVersion(result.stdout);
  if (result.code !== 0 || version === undefined) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      `${qemuBinary} --version: ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
  return version;
}
