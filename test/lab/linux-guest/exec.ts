/** Runs a host command with a timeout and an optional working directory; errors name the command. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { EtherplaneError } from "../../../src/foundation/errors.js";

const execFileAsync = promisify(execFile);

export async function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd: options.cwd,
      env: options.env,
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { stdout, stderr };
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new EtherplaneError(
      "IO_ERROR",
      `${command} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`,
      { cause: error, params: { command, args } },
    );
  }
}
