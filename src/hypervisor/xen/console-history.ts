/**
 * A guest console's history: the tail of xenconsoled's log (`xenconsoled --log=guest` writes
 * `<dir>/guest-NAME.log`, everything the guest printed, CR LF and all), and the bytes xenconsole
 * replays on attach. The pty between xenconsoled and `xl console` holds whatever nobody read, so
 * the first bytes of a new attach repeat the end of the log: `overlapLength` finds how many.
 */
import { open } from "node:fs/promises";

/** The last `bytesMax` bytes of the file, or null when it does not exist. */
export async function readFileTail(path: string, bytesMax: number): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, bytesMax);
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, size - length + done);
      if (bytesRead === 0) break; // truncated while reading: keep what was there
      done += bytesRead;
    }
    return buffer.subarray(0, done);
  } finally {
    await handle.close();
  }
}

/**
 * The length of the longest prefix of `replay` that is a suffix of `history` (Knuth-Morris-Pratt
 * over the bytes, linear time): those bytes are already in the history.
 */
export function overlapLength(history: Buffer, replay: Buffer): number {
  if (history.length === 0 || replay.length === 0) return 0;
  const pattern = replay.subarray(0, Math.min(replay.length, history.length));
  const failure = new Int32Array(pattern.length);
  for (let i = 1, k = 0; i < pattern.length; i++) {
    while (k > 0 && pattern[i] !== pattern[k]) k = failure[k - 1] as number;
    if (pattern[i] === pattern[k]) k++;
    failure[i] = k;
  }
  let matched = 0;
  for (let i = history.length - pattern.length; i < history.length; i++) {
    while (matched > 0 && (matched === pattern.length || history[i] !== pattern[matched])) {
      matched = failure[matched - 1] as number;
    }
    if (history[i] === pattern[matched]) matched++;
  }
  return matched;
}

/** Keeps the last `bytesMax` bytes appended to it. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(private readonly bytesMax: number) {}

  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.length - (this.chunks[0]?.length ?? 0) >= this.bytesMax && this.chunks.length > 1) {
      this.length -= (this.chunks.shift() as Buffer).length;
    }
  }

  contents(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.length > this.bytesMax ? all.subarray(all.length - this.bytesMax) : all;
  }
}

/**
 * Splits a first attach's replayed backlog against the log. xenconsoled writes the log before
 * the pty, so the log may already hold bytes that will arrive as live output after the backlog:
 * when the whole backlog is in the log, the history ends where the backlog ends there (the rest
 * arrives live, once). Otherwise the backlog's prefix that ends the log is dropped as a repeat.
 */
export function splitBacklog(logTail: Buffer, backlog: Buffer): { history: Buffer; first: Buffer } {
  if (backlog.length > 0) {
    const at = logTail.lastIndexOf(backlog);
    if (at >= 0) {
      return { history: logTail.subarray(0, at + backlog.length), first: Buffer.alloc(0) };
    }
  }
  return { history: logTail, first: backlog.subarray(overlapLength(logTail, backlog)) };
}
