/**
 * A plan as a POSIX shell script, to run where etherplane itself does not (a busybox guest, an
 * operator's review before applying by hand). Every word is quoted unless it is plainly safe.
 */
import type { IpCommand } from "./plan.js";

const SAFE_WORD = /^[A-Za-z0-9_.,:/=@%+-]+$/;

/** `word` as one shell word: as is when safe, else single-quoted (`'` written as `'\''`). */
export function shellQuote(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * `set -e` and one `ip ...` line per command, so the script stops at the first failure as
 * apply.ts does. `ip` is the command to run (default `ip`, e.g. `busybox ip` or a full path).
 */
export function renderPlanAsShell(
  commands: readonly IpCommand[],
  options: { ip?: string } = {},
): string {
  const ip = options.ip ?? "ip";
  const lines = ["set -e", ...commands.map((argv) => [ip, ...argv.map(shellQuote)].join(" "))];
  return lines.join("\n") + "\n";
}
