/**
 * Runs commands in the Xen host lab's dom0 and gets each one back as a CommandResult (stdout,
 * stderr, exit status), the shape the driver's command runner returns: the lab runs one shell
 * script per boot and returns its stdout lines, so each captured command is framed by marker
 * lines. Commands that are not captured (setup, waits) go in as plain shell.
 */
import type { CommandResult } from "../../../host/command-runner.js";

export type Dom0Step =
  { kind: "capture"; name: string; command: string } | { kind: "shell"; command: string };

const MARK = "=== ep-capture";

export function captureScript(steps: readonly Dom0Step[]): string {
  const lines = ["set +e", 'up() { read -r s _ </proc/uptime; echo "$s"; }'];
  for (const step of steps) {
    if (step.kind === "shell") {
      lines.push(step.command);
      continue;
    }
    if (!/^[\w.-]+$/.test(step.name)) throw new Error(`bad capture name ${step.name}`);
    lines.push(
      `echo "${MARK} begin ${step.name}"`,
      `t0=$(up); { ${step.command}\n} >/tmp/ep-out 2>/tmp/ep-err; rc=$?; t1=$(up)`,
      // A last line without a newline would swallow the marker that follows it.
      `cat /tmp/ep-out; [ -z "$(tail -c 1 /tmp/ep-out)" ] || echo`,
      `echo "${MARK} stderr"`,
      `cat /tmp/ep-err; [ -z "$(tail -c 1 /tmp/ep-err)" ] || echo`,
      `echo "${MARK} end $rc $t0 $t1"`,
    );
  }
  return lines.join("\n") + "\n";
}

export interface Dom0Capture extends CommandResult {
  /** dom0 uptime seconds the command took. */
  seconds: number;
}

/** The captures in the script's output, by name. */
export function splitCaptures(lines: readonly string[]): Map<string, Dom0Capture> {
  const out = new Map<string, Dom0Capture>();
  let name: string | undefined;
  let stdout: string[] = [];
  let stderr: string[] = [];
  let into: string[] | undefined;
  for (const line of lines) {
    if (!line.startsWith(MARK)) {
      into?.push(line);
      continue;
    }
    const [, word, ...rest] = line.slice(MARK.length).split(" ");
    if (word === "begin") {
      name = rest[0];
      stdout = [];
      stderr = [];
      into = stdout;
    } else if (word === "stderr") {
      into = stderr;
    } else if (word === "end" && name !== undefined) {
      const [code, t0, t1] = rest.map(Number) as [number, number, number];
      const text = (part: string[]) => (part.length === 0 ? "" : part.join("\n") + "\n");
      out.set(name, { code, stdout: text(stdout), stderr: text(stderr), seconds: t1 - t0 });
      name = undefined;
      into = undefined;
    }
  }
  return out;
}
