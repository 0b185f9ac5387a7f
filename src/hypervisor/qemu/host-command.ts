/**
 * Runs a host tool (ip, qemu-system-x86_64) with a timeout, optionally inside a named network
 * namespace (`ip netns exec NS ...`: the driver's `netns` option, for tests that keep every tap
 * and bridge inside a namespace of their own). Never throws for a non-zero exit: the caller reads
 * the code and stderr and chooses the error.
 */
import { spawn } from "node:child_process";
import { EtherplaneError } from "../../foundation/errors.js";

const outputBytesMax = 1024 * 1024;

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CommandContext {
  netns: string | undefined;
}

export function netnsArgv(context: CommandContext, argv: readonly string[]): string[] {
  return context.netns === undefined ? [...argv] : ["ip", "netns", "exec", context.netns, ...argv];
}

export function runHostCommand(
  context: CommandContext,
  argv: readonly string[],
  timeoutMs: number,
): Promise<CommandResult> {
  const [command, ...args] = netnsArgv(context, argv);
  if (command === undefined) throw new Error("empty argv");
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const take = (text: string, chunk: Buffer) =>
      text.length < outputBytesMax ? text + chunk.toString("utf8") : text;
    child.stdout.on("data", (chunk: Buffer) => (stdout = take(stdout, chunk)));
    child.stderr.on("data", (chunk: Buffer) => (stderr = take(stderr, chunk)));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new EtherplaneError("TIMEOUT", `${argv.join(" ")} did not finish in ${timeoutMs} ms`, {
          params: { argv, timeoutMs },
        }),
      );
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(
        new EtherplaneError("UNAVAILABLE", `cannot run ${command}: ${error.message}`, {
          cause: error,
        }),
      );
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
