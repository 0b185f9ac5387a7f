/**
 * The copy's progress: bytes and files done, rate, ETA against the source's used bytes. On a
 * terminal one line redrawn in place; elsewhere a line every few seconds; with --json one
 * `{"event":"progress",...}` object per line on stdout for scripts.
 */
import { formatBytes } from "../output/bytes.js";

export interface ProgressSample {
  bytes: number;
  files: number;
}

export interface ProgressEvent extends ProgressSample {
  event: "progress";
  phase: string;
  totalBytes: number;
  rateBytesPerS: number;
  etaS: number | null;
}

const LOG_EVERY_MS = 5000;
const JSON_EVERY_MS = 1000;
const TTY_EVERY_MS = 200;

export function progressEvent(
  phase: string,
  sample: ProgressSample,
  totalBytes: number,
  elapsedMs: number,
): ProgressEvent {
  const rate = elapsedMs > 0 ? (sample.bytes * 1000) / elapsedMs : 0;
  const left = Math.max(0, totalBytes - sample.bytes);
  return {
    event: "progress",
    phase,
    bytes: sample.bytes,
    files: sample.files,
    totalBytes,
    rateBytesPerS: Math.round(rate),
    etaS: rate > 0 ? Math.round(left / rate) : null,
  };
}

export function progressLine(e: ProgressEvent): string {
  const eta =
    e.etaS === null ? "--" : `${Math.floor(e.etaS / 60)}m${String(e.etaS % 60).padStart(2, "0")}s`;
  return `${e.phase}: ${formatBytes(e.bytes)} of ~${formatBytes(e.totalBytes)}, ${e.files} files, ${formatBytes(e.rateBytesPerS)}/s, ETA ${eta}`;
}

export class ProgressView {
  private readonly startMs = Date.now();
  private lastMs = 0;
  private drawn = false;

  constructor(
    private readonly phase: string,
    private readonly totalBytes: number,
    private readonly mode: "tty" | "log" | "json",
  ) {}

  update(sample: ProgressSample, force = false): void {
    const now = Date.now();
    const every =
      this.mode === "json" ? JSON_EVERY_MS : this.mode === "tty" ? TTY_EVERY_MS : LOG_EVERY_MS;
    if (!force && now - this.lastMs < every) return;
    this.lastMs = now;
    const event = progressEvent(this.phase, sample, this.totalBytes, now - this.startMs);
    if (this.mode === "json") process.stdout.write(`${JSON.stringify(event)}\n`);
    else if (this.mode === "tty") {
      process.stderr.write(`\r${progressLine(event)}\x1b[K`);
      this.drawn = true;
    } else process.stderr.write(`${progressLine(event)}\n`);
  }

  end(sample: ProgressSample): void {
    this.update(sample, true);
    if (this.drawn) process.stderr.write("\n");
  }
}
