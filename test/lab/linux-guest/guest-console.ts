/**
 * Reads the guest's serial console as it streams in: keeps a bounded copy of the text and picks
 * out the lines of the console protocol written by `/init` (see guest-init.ts).
 */
import { consoleControlPrefix, consoleLinePrefix } from "./guest-init.js";

const consoleCharsMax = 4 * 1024 * 1024;
const linesMax = 100_000;
const partialCharsMax = 64 * 1024;

export interface GuestStage {
  /** INIT, NET, READY, DONE. */
  name: string;
  /** Guest uptime when the stage was reached, in seconds (/proc/uptime). */
  uptimeS: number;
  detail: string;
  /** Host milliseconds since the console started, when the line arrived. */
  hostMs: number;
}

export class GuestConsole {
  /** What the user script wrote to stdout, one entry per line, prefix removed. */
  readonly lines: string[] = [];
  readonly stages: GuestStage[] = [];
  failure: string | undefined;
  exitCode: number | undefined;
  private text = "";
  private truncatedChars = 0;
  private partial = "";
  private readonly startMs: number;

  constructor(nowMs: number) {
    this.startMs = nowMs;
  }

  push(chunk: string, nowMs: number): void {
    this.text += chunk;
    if (this.text.length > consoleCharsMax) {
      const drop = this.text.length - consoleCharsMax;
      this.text = this.text.slice(drop);
      this.truncatedChars += drop;
    }
    const pieces = (this.partial + chunk).split("\n");
    this.partial = (pieces.pop() ?? "").slice(-partialCharsMax);
    for (const piece of pieces) this.line(piece.replaceAll("\r", ""), nowMs);
  }

  /** Parses a last line that had no newline. */
  end(nowMs: number): void {
    if (this.partial) this.line(this.partial.replaceAll("\r", ""), nowMs);
    this.partial = "";
  }

  /** The whole console (its start dropped beyond 4 MiB). */
  get console(): string {
    return this.truncatedChars > 0
      ? `[${this.truncatedChars} characters dropped]\n${this.text}`
      : this.text;
  }

  /** The last `count` lines of the console, for error messages. */
  tail(count = 40): string {
    return this.text.replaceAll("\r", "").split("\n").slice(-count).join("\n");
  }

  stage(name: string): GuestStage | undefined {
    return this.stages.find((stage) => stage.name === name);
  }

  private line(line: string, nowMs: number): void {
    if (line.startsWith(consoleLinePrefix)) {
      if (this.lines.length < linesMax) this.lines.push(line.slice(consoleLinePrefix.length));
      return;
    }
    if (!line.startsWith(consoleControlPrefix)) return;
    const [name = "", ...rest] = line.slice(consoleControlPrefix.length).split(" ");
    if (name === "FAIL") {
      this.failure ??= rest.join(" ");
    } else if (name === "EXIT") {
      const code = Number(rest[0]);
      if (Number.isInteger(code)) this.exitCode = code;
    } else {
      const [uptime = "", ...detail] = rest;
      const uptimeS = Number(uptime);
      if (/^[A-Z]+$/.test(name) && Number.isFinite(uptimeS)) {
        this.stages.push({
          name,
          uptimeS,
          detail: detail.join(" "),
          hostMs: nowMs - this.startMs,
        });
      }
    }
  }
}
