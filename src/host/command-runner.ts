/**
 * The one way etherplane runs a host tool (ip, xl, qemu-system-x86_64, mkfifo): spawned with a
 * timeout, output bounded per stream, optionally inside a named network namespace
 * (`ip netns exec NS`, for tests that keep every tap and bridge in a namespace of their own).
 * A non-zero exit is a result, not an error: the caller reads the code and stderr and chooses
 * the error. Callers take a `CommandRunner` as a parameter, so tests can record the command
 * sequence and answer with real captured output (the xen driver's fake lives in its testing/).
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { EtherplaneError } from "../foundation/errors.js";

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

export interface CommandRunnerOptions {
  /** Used when a call gives none. */
  timeoutMsDefault?: number;
  /** Per stream; a process writing more is killed (the tools' outputs are kilobytes). */
  outputBytesMax?: number;
  env?: NodeJS.ProcessEnv;
  /** A named network namespace (`ip netns add NAME`): commands run in it. */
  netns?: string;
  /** What to do when the command is not found, e.g. "install iproute2 (apt-get install iproute2)". */
  missingHint?: string;
}

export const TIMEOUT_MS_DEFAULT = 60_000;
export const TIMEOUT_MS_MAX = 60 * 60_000;
export const OUTPUT_BYTES_MAX = 16 * 1024 * 1024;
/**
 * After the process exits, how long its pipes may stay open: `xl create` forks a daemon that
 * keeps watching the domain; it redirects its own stdout/stderr to a log file (do_daemonize,
 * tools/xl/xl_utils.c), but a grandchild holding a pipe must not hang the call.
 */
const PIPE_GRACE_MS = 1000;
const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** INVALID_ARGUMENT unless `netns` can name a namespace under /var/run/netns. */
export function checkNetnsName(netns: string): void {
  if (!NETNS_NAME.test(netns) || netns === "." || netns === "..") {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `netns ${JSON.stringify(netns)} is not a namespace name (letters, digits, "_", "." or "-")`,
    );
  }
}

/** `argv` as run inside `netns` (`ip netns exec NS ...`), or as it is without one. */
export function netnsArgv(netns: string | undefined, argv: readonly string[]): string[] {
  return netns === undefined ? [...argv] : ["ip", "netns", "exec", netns, ...argv];
}

function checkTimeout(timeoutMs: number): void {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > TIMEOUT_MS_MAX) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `timeoutMs ${timeoutMs} is outside 1..${TIMEOUT_MS_MAX}`,
    );
  }
}

export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  const outputBytesMax = options.outputBytesMax ?? OUTPUT_BYTES_MAX;
  const timeoutMsDefault = options.timeoutMsDefault ?? TIMEOUT_MS_DEFAULT;
  checkTimeout(timeoutMsDefault);
  if (options.netns !== undefined) checkNetnsName(options.netns);
  const missingHint = options.missingHint ?? "install it, or give its full path";
  return (argv, callOptions = {}) =>
    new Promise<CommandResult>((resolve, reject) => {
      const timeoutMs = callOptions.timeoutMs ?? timeoutMsDefault;
      checkTimeout(timeoutMs);
      const shown = argv.join(" ");
      const [command, ...args] = netnsArgv(options.netns, argv);
      if (argv.length === 0 || command === undefined) {
        reject(new EtherplaneError("INVALID_ARGUMENT", "empty command"));
        return;
      }
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
              `${shown} wrote over ${outputBytesMax} bytes to ${name}`,
              {
                params: params(),
              },
            ),
          );
          return;
        }
        into.push(chunk);
      };
      const timer = setTimeout(() => {
        finish(
          new EtherplaneError("TIMEOUT", `${shown} did not finish in ${timeoutMs} ms`, {
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
            missing ? `${command} not found: ${missingHint}` : `${shown}: ${error.message}`,
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
