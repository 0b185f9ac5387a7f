/**
 * Starting and stopping a guest's QEMU process. QEMU daemonizes (-daemonize, -pidfile), so the
 * process outlives the agent; it is found again through its run directory (run-dir.ts).
 */
import { constants } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import { EtherplaneError, errorFields, isEtherplaneError } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import { runHostCommand, type CommandContext } from "./host-command.js";
import { encodeQmpCommand } from "./qmp-codec.js";
import { withQmp } from "./qmp-client.js";
import { isQemuOf, livePid, type RunDir } from "./run-dir.js";

const log = createLogger("hypervisor:qemu");

const mkfifoTimeoutMs = 10_000;
const killWaitMs = 5000;
const exitPollMs = 50;

export interface QemuProcessOptions {
  qemuBinary: string;
  /** Where QEMU runs (its network namespace). */
  context: CommandContext;
  /** Bound on QEMU's start-up until it daemonizes. */
  startTimeoutMs: number;
  /** Bound on each QMP exchange. */
  qmpTimeoutMs: number;
  /** How long a stop lets QEMU quit before SIGKILL. */
  quitTimeoutMs: number;
}

/**
 * Starts QEMU and waits until it daemonizes (its parent exits 0 once the machine is set up,
 * or non-zero with the reason on stderr). The event monitor's input FIFO is held open by us
 * until then, with `qmp_capabilities` in it: QEMU opens the FIFO read-write and keeps it, so
 * the line survives our close and QEMU reads it once its main loop runs.
 */
export async function startQemu(
  options: QemuProcessOptions,
  run: RunDir,
  argv: readonly string[],
): Promise<void> {
  const fifo = await runHostCommand(
    { netns: undefined },
    ["mkfifo", "-m", "600", run.eventsIn],
    mkfifoTimeoutMs,
  );
  if (fifo.code !== 0)
    throw new EtherplaneError("IO_ERROR", `mkfifo ${run.eventsIn}: ${fifo.stderr.trim()}`);
  await writeFile(run.eventsOut, "", { mode: 0o600 });
  const input = await open(run.eventsIn, constants.O_RDWR | constants.O_NONBLOCK);
  try {
    await input.write(encodeQmpCommand("qmp_capabilities"));
    // QEMU points the daemon's stdio at /dev/null before it lets the parent exit
    // (os-posix.c os_setup_post), so the run ends with the launching parent.
    const result = await runHostCommand(
      options.context,
      [options.qemuBinary, ...argv],
      options.startTimeoutMs,
    );
    if (result.code !== 0) {
      throw new EtherplaneError(
        "UNAVAILABLE",
        `QEMU did not start (exit ${result.code}): ${result.stderr.trim()}`,
        {
          params: { argv },
        },
      );
    }
  } finally {
    await input.close();
  }
  if ((await livePid(run)) === undefined) {
    throw new EtherplaneError("IO_ERROR", `QEMU daemonized but ${run.pidFile} names no live QEMU`);
  }
}

/** Quits QEMU (QMP quit, then SIGKILL) and waits until it is gone. */
export async function stopQemu(options: QemuProcessOptions, run: RunDir): Promise<void> {
  const pid = await livePid(run);
  if (pid === undefined) return;
  let unanswered = false;
  await withQmp(run.qmpSocket, Math.min(options.qmpTimeoutMs, options.quitTimeoutMs), (qmp) =>
    qmp.execute("quit", undefined, options.qmpTimeoutMs),
  ).catch((error: unknown) => {
    // The connection may close before the reply: QEMU is on its way out.
    if (isEtherplaneError(error, "UNAVAILABLE")) return;
    // No reply at all: QEMU is stuck, typically draining writes to a disk that no longer
    // answers (a host fenced at the storage). Waiting longer only keeps a stale guest alive.
    unanswered = isEtherplaneError(error, "TIMEOUT");
    log.warn("QMP quit failed", { dir: run.dir, ...errorFields(error) });
  });
  if (!unanswered && (await waitGone(pid, run, options.quitTimeoutMs))) return;
  log.warn("QEMU did not quit: killing it", { pid, dir: run.dir });
  try {
    process.kill(pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
  if (!(await waitGone(pid, run, killWaitMs))) {
    throw new EtherplaneError("IO_ERROR", `QEMU ${pid} survived SIGKILL for ${killWaitMs} ms`);
  }
}

async function waitGone(pid: number, run: RunDir, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isQemuOf(pid, run)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, exitPollMs));
  }
  return true;
}
