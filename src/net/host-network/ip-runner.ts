/**
 * Runs iproute2's `ip`, the only I/O of host networks: apply.ts takes an `IpRunner`, so tests can
 * pass one that records or refuses, and a caller can run in a network namespace (`ip -n NS`).
 */
import { spawn } from "node:child_process";
import { EtherplaneError } from "../../foundation/errors.js";

export interface IpResult {
  /** null when `ip` was killed by a signal. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ip ...args`; resolves with the result even when `ip` fails (the caller classifies). */
export type IpRunner = (args: readonly string[]) => Promise<IpResult>;

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
const stdoutBytesMax = 32 * 1024 * 1024;
const stderrBytesMax = 64 * 1024;

export function createIpRunner(options: IpRunnerOptions = {}): IpRunner {
  const timeoutMs = options.timeoutMs ?? timeoutMsDefault;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > timeoutMsMax) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `timeoutMs ${timeoutMs} is outside 100..${timeoutMsMax}`,
    );
  }
  const netns = options.netns;
  if (netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(netns)) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `netns ${JSON.stringify(netns)} is not a namespace name (letters, digits, "_", "." or "-")`,
    );
  }
  const ip = options.ipPath ?? "ip";
  const prefix = netns === undefined ? [] : ["-n", netns];
  return (args) => runIp(ip, [...prefix, ...args], timeoutMs);
}

function runIp(ip: string, argv: string[], timeoutMs: number): Promise<IpResult> {
  const shown = `ip ${argv.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(ip, argv, { stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = "";
    let failure: EtherplaneError | undefined;
    const stop = (error: EtherplaneError) => {
      failure ??= error;
      child.kill("SIGKILL");
    };
    const timer = setTimeout(
      () => stop(new EtherplaneError("TIMEOUT", `${shown} did not finish in ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > stdoutBytesMax) {
        stop(new EtherplaneError("IO_ERROR", `${shown} printed over ${stdoutBytesMax} bytes`));
      } else {
        stdout.push(chunk);
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < stderrBytesMax) stderr += chunk.slice(0, stderrBytesMax - stderr.length);
    });
    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === "ENOENT"
          ? new EtherplaneError(
              "UNAVAILABLE",
              `${ip} not found: install iproute2 (apt-get install iproute2)`,
              { cause: error },
            )
          : new EtherplaneError("IO_ERROR", `cannot run ${shown}: ${error.message}`, {
              cause: error,
            }),
      );
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      resolve({ exitCode: code, stdout: Buffer.concat(stdout).toString("utf8"), stderr });
    });
  });
}
