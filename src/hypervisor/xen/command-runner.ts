/**
 * How the xen driver runs `xl`: an injected function, so that tests can record the command
 * sequence and answer with real captured output (the fake lives in testing/), and the real one
 * spawns with a timeout and bounded output.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { EtherplaneError } from "../../foundation/errors.js";

export interface CommandResult {
  /** The exit status; 128 + the signal number when a signal ended the process. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Written to stdin, which is then closed; stdin is closed at once without it. */
  input?: string | Buffer;
  timeoutMs?: number;
}

/** Runs `argv[0]` with the rest as arguments. Rejects with TIMEOUT, UNAVAILABLE or IO_ERROR. */
export type CommandRunner = (
  argv: readonly string[],
  options?: CommandOptions,
) => Promise<CommandResult>;

export interface SpawnRunnerOptions {
  /** Used when a call gives none. */
  timeoutMsDefault?: number;
  /** Per stream; a process writing more is killed (xl's outputs are kilobytes). */
  outputBytesMax?: number;
  env?: NodeJS.ProcessEnv;
}

const TIMEOUT_MS_DEFAULT = 60_000;
const OUTPUT_BYTES_MAX = 16 * 1024 * 1024;
/**
 * After the process exits, how long its pipes may stay open: `xl create` forks a daemon that
 * keeps watching the domain; it redirects its own stdout/stderr to a log file (do_daemonize,
 * tools/xl/xl_utils.c), but a grandchild holding a pipe must not hang the call.
 */
const PIPE_GRACE_MS = 1000;

export function spawnCommandRunner(options: SpawnRunnerOptions = {}): CommandRunner {
  const outputBytesMax = options.outputBytesMax ?? OUTPUT_BYTES_MAX;
  return (argv, callOptions = {}) =>
    new Promise<CommandResult>((resolve, reject) => {
      const [command, ...args] = argv;
      if (command === undefined) {
        reject(new EtherplaneError("INVALID_ARGUMENT", "empty command"));
        return;
      }
      const timeoutMs = callOptions.timeoutMs ?? options.timeoutMsDefault ?? TIMEOUT_MS_DEFAULT;
      const child = spawn(command, args, { stdio: "pipe", env: options.env ?? process.env });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      const sizes = { stdout: 0, stderr: 0 };
      let settled = false;
      let exitCode: number | undefined;
      let graceTimer: NodeJS.Timeout | undefined;

      const finish = (error: EtherplaneError | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        child.stdout.destroy();
        child.stderr.destroy();
        if (error !== undefined) {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          reject(error);
          return;
        }
        resolve({
          code: exitCode ?? 0,
          stdout: Buffer.concat(stdout).toString("utf8"),
          stderr: Buffer.concat(stderr).toString("utf8"),
        });
      };
      const params = () => ({
        argv: [...argv],
        stderr: Buffer.concat(stderr).toString("utf8").slice(-2000),
      });
      const collect = (name: "stdout" | "stderr", into: Buffer[]) => (chunk: Buffer) => {
        sizes[name] += chunk.length;
        if (sizes[name] > outputBytesMax) {
          finish(
            new EtherplaneError(
              "IO_ERROR",
              `${argv.join(" ")} wrote over ${outputBytesMax} bytes to ${name}`,
              { params: params() },
            ),
          );
          return;
        }
        into.push(chunk);
      };
      const timer = setTimeout(() => {
        finish(
          new EtherplaneError("TIMEOUT", `${argv.join(" ")} did not finish in ${timeoutMs} ms`, {
            params: { ...params(), timeoutMs },
          }),
        );
      }, timeoutMs);

      child.stdout.on("data", collect("stdout", stdout));
      child.stderr.on("data", collect("stderr", stderr));
      child.on("error", (error: NodeJS.ErrnoException) => {
        const missing = error.code === "ENOENT";
        finish(
          new EtherplaneError(
            missing ? "UNAVAILABLE" : "IO_ERROR",
            missing
              ? `${command} not found: install the Xen tools (xen-utils) or set the xl path`
              : `${argv.join(" ")}: ${error.message}`,
            { cause: error, params: { argv: [...argv] } },
          ),
        );
      });
      child.on("exit", (code, signal) => {
        exitCode =
          code ??
          128 + (signal === null ? 0 : ((constants.signals[signal] as number | undefined) ?? 0));
        graceTimer = setTimeout(() => finish(undefined), PIPE_GRACE_MS);
      });
      child.on("close", () => finish(undefined));
      // EPIPE when the process exits without reading its input is not the caller's failure.
      child.stdin.on("error", () => undefined);
      child.stdin.end(callOptions.input);
    });
}
