/**
 * Follows a controller task until it ends, showing its progress: on a terminal one line redrawn
 * in place (`[#####.....]  45%  copying 9.0G of 20G`), elsewhere (logs, pipes) a line each time
 * the message or the progress decile changes. Time is bounded; a task that outlives the wait
 * goes on in the controller.
 */
import { assert } from "../../foundation/assert.js";
import { EtherplaneError, isEtherplaneError } from "../../foundation/errors.js";
import type { TaskRecord } from "../../cluster/model.js";
import { isErrorCode } from "../client/api-errors.js";
import type { TaskSource } from "../client/task-source.js";
import { printable } from "./printable.js";

export interface FollowTaskOptions {
  output: NodeJS.WritableStream;
  isTTY: boolean;
  /** Time between two reads of the task. Default 500 ms. */
  pollMs?: number;
  /** How long to wait for the task to end. Default one hour. */
  timeoutMs?: number;
  /** For tests: a fake clock. Default Date.now and setTimeout. */
  clock?: FollowClock;
}

export interface FollowClock {
  nowMs(): number;
  sleep(ms: number): Promise<void>;
}

export const defaultPollMs = 500;
export const defaultFollowTimeoutMs = 3_600_000;
/** Reads that fail with UNAVAILABLE or TIMEOUT (a controller restarting) are retried this often. */
export const pollFailuresMax = 3;
const barWidth = 10;

const realClock: FollowClock = {
  nowMs: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export async function followTask(
  tasks: TaskSource,
  taskId: string,
  options: FollowTaskOptions,
): Promise<TaskRecord> {
  const { output, isTTY, clock = realClock } = options;
  const pollMs = options.pollMs ?? defaultPollMs;
  const timeoutMs = options.timeoutMs ?? defaultFollowTimeoutMs;
  assert(pollMs > 0 && timeoutMs > 0, `followTask pollMs ${pollMs} timeoutMs ${timeoutMs}`);
  const deadlineMs = clock.nowMs() + timeoutMs;
  const view = isTTY ? new TerminalView(output) : new LogView(output);
  let failures = 0;
  let task: TaskRecord | undefined;
  while (true) {
    try {
      task = await tasks.getTask(taskId);
      failures = 0;
    } catch (error) {
      const transient =
        isEtherplaneError(error, "UNAVAILABLE") || isEtherplaneError(error, "TIMEOUT");
      if (!transient || ++failures > pollFailuresMax || clock.nowMs() >= deadlineMs) {
        view.end();
        throw error;
      }
    }
    if (task) view.show(task);
    if (task?.state === "succeeded") {
      view.end();
      return task;
    }
    if (task?.state === "failed") {
      view.end();
      throw taskFailure(task);
    }
    const leftMs = deadlineMs - clock.nowMs();
    if (leftMs <= 0) {
      view.end();
      throw timedOut(taskId, task, timeoutMs);
    }
    await clock.sleep(Math.min(pollMs, leftMs));
  }
}

/** The parts of `[#####.....]  45%  copying 9.0G of 20G`; logs print it without the bar. */
export function progressParts(task: TaskRecord): { bar: string; percent: number; message: string } {
  const fraction = task.state === "succeeded" ? 1 : clamp(task.progress);
  const filled = Math.round(fraction * barWidth);
  return {
    bar: `[${"#".repeat(filled)}${".".repeat(barWidth - filled)}]`,
    // A float like 0.29 * 100 is 28.999...; the epsilon keeps it at 29.
    percent: Math.floor(fraction * 100 + 1e-9),
    message: printable(task.message || task.state),
  };
}

function clamp(progress: number): number {
  return Number.isFinite(progress) ? Math.min(1, Math.max(0, progress)) : 0;
}

interface View {
  show(task: TaskRecord): void;
  /** Leaves the output at the start of a fresh line. */
  end(): void;
}

class TerminalView implements View {
  private line = "";

  constructor(private readonly output: NodeJS.WritableStream) {}

  show(task: TaskRecord): void {
    const { bar, percent, message } = progressParts(task);
    let line = `${bar} ${String(percent).padStart(3)}%  ${message}`;
    // A line that wraps cannot be redrawn with \r; keep it within the terminal's width.
    const columns = (this.output as { columns?: unknown }).columns;
    if (typeof columns === "number" && columns > 1) line = line.slice(0, columns - 1);
    if (line === this.line) return;
    this.line = line;
    // \r back to the line's start, the new text, then ESC [K clears what the old text left.
    this.output.write(`\r${line}\x1b[K`);
  }

  end(): void {
    if (this.line) this.output.write("\n");
    this.line = "";
  }
}

class LogView implements View {
  private last: { decile: number; message: string } | undefined;

  constructor(private readonly output: NodeJS.WritableStream) {}

  show(task: TaskRecord): void {
    const { percent, message } = progressParts(task);
    const decile = Math.floor(percent / 10);
    if (this.last && this.last.decile === decile && this.last.message === message) return;
    this.last = { decile, message };
    this.output.write(`${percent}%  ${message}\n`);
  }

  end(): void {}
}

function taskFailure(task: TaskRecord): EtherplaneError {
  const error = task.error;
  const code = isErrorCode(error?.code) ? error.code : "REFUSED";
  let message = `task ${task.id} (${task.kind}) failed: ${error?.message || task.message || "no reason given"}`;
  // The model's error has a code and a message; a controller may add what to do about it.
  const hint = (error as { hint?: unknown } | null)?.hint;
  if (typeof hint === "string" && hint) message += `; ${hint}`;
  return new EtherplaneError(code, printable(message), {
    params: { taskId: task.id, kind: task.kind, remoteCode: error?.code },
  });
}

function timedOut(
  taskId: string,
  task: TaskRecord | undefined,
  timeoutMs: number,
): EtherplaneError {
  const parts = task && progressParts(task);
  const where = task && parts ? ` (${task.state}, ${parts.percent}%: ${parts.message})` : "";
  return new EtherplaneError(
    "TIMEOUT",
    `task ${taskId} has not ended after ${timeoutMs / 1000}s${where}; it goes on in the ` +
      `controller: check it later with \`etherplane task show ${taskId}\``,
    { params: { taskId } },
  );
}
