/**
 * The byte copy behind clones when no reflink is possible: chunk by chunk through the libuv thread
 * pool (never sync I/O on the event loop), the read of one chunk overlapping the write of the one
 * before, with progress after every chunk. Into a target that already reads as zeros (a file just
 * truncated to size) all-zero chunks are skipped, so the holes of a sparse source stay holes.
 *
 * Not atomic against writers: a chunk read after a concurrent write to the source sees it, one
 * read before does not. Callers that need a point-in-time copy quiesce the source first (or get
 * a reflink, which the file system makes atomically).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { Progress } from "./storage-pool.js";

export const COPY_CHUNK_BYTES_DEFAULT = 1024 * 1024;
export const COPY_CHUNK_BYTES_MIN = 4096;
export const COPY_CHUNK_BYTES_MAX = 16 * 1024 * 1024;

/** What the copy needs of a file (a FileHandle has it; tests pass fakes that fail on cue). */
export interface PositionalFile {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  write(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
}

export interface CopyBytesRequest {
  source: PositionalFile;
  target: PositionalFile;
  /** Bytes to copy, from offset 0 of both. */
  sizeBytes: number;
  /** The target reads as zeros already: all-zero chunks are not written (they stay holes). */
  targetReadsZero: boolean;
  chunkBytes?: number;
  progress?: Progress;
  /** Names for error messages. */
  sourceName: string;
  targetName: string;
}

export function checkChunkBytes(chunkBytes: number): number {
  if (
    !Number.isSafeInteger(chunkBytes) ||
    chunkBytes < COPY_CHUNK_BYTES_MIN ||
    chunkBytes > COPY_CHUNK_BYTES_MAX ||
    chunkBytes % COPY_CHUNK_BYTES_MIN !== 0
  ) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `copy chunk of ${chunkBytes} bytes must be a multiple of ${COPY_CHUNK_BYTES_MIN} from ${COPY_CHUNK_BYTES_MIN} to ${COPY_CHUNK_BYTES_MAX}`,
      { params: { chunkBytes } },
    );
  }
  return chunkBytes;
}

/** Copies and returns the bytes really written (skipped zero chunks not counted). */
export async function copyBytes(request: CopyBytesRequest): Promise<{ writtenBytes: number }> {
  const { source, target, sizeBytes, progress } = request;
  const chunkBytes = checkChunkBytes(request.chunkBytes ?? COPY_CHUNK_BYTES_DEFAULT);
  const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)] as const;
  const zeros = request.targetReadsZero ? Buffer.alloc(chunkBytes) : undefined;
  let writtenBytes = 0;
  let inFlight: { done: Promise<void>; endBytes: number } | undefined;
  progress?.(0, sizeBytes);
  try {
    for (let offset = 0, turn = 0; offset < sizeBytes; offset += chunkBytes, turn ^= 1) {
      const length = Math.min(chunkBytes, sizeBytes - offset);
      // This buffer's previous write (two chunks ago) finished before the last chunk started.
      const chunk = (turn === 0 ? buffers[0] : buffers[1]).subarray(0, length);
      await readFully(source, chunk, offset, request.sourceName);
      if (inFlight) {
        await inFlight.done;
        progress?.(inFlight.endBytes, sizeBytes);
      }
      const skip = zeros !== undefined && chunk.equals(zeros.subarray(0, length));
      const done = skip ? Promise.resolve() : writeFully(target, chunk, offset, request.targetName);
      // Marked handled now: a write failing while the next read runs must not be an unhandled
      // rejection; it is still thrown by the `await inFlight.done` that follows.
      done.catch(() => {});
      if (!skip) writtenBytes += length;
      inFlight = { done, endBytes: offset + length };
    }
    if (inFlight) {
      await inFlight.done;
      inFlight = undefined;
    }
  } finally {
    // A failed read leaves the previous write running: let it finish before the caller closes
    // the files under it (its own error, if any, is secondary to the one being thrown).
    if (inFlight) await inFlight.done.catch(() => {});
  }
  if (sizeBytes > 0) progress?.(sizeBytes, sizeBytes);
  return { writtenBytes };
}

async function readFully(
  file: PositionalFile,
  buffer: Buffer,
  position: number,
  name: string,
): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await file.read(buffer, done, buffer.length - done, position + done));
    } catch (cause) {
      throw ioError("read", name, position + done, cause);
    }
    if (bytesRead === 0) {
      throw new EtherplaneError(
        "IO_ERROR",
        `${name} ended at byte ${position + done}, before the ${buffer.length} bytes at ${position} (did it shrink?)`,
        { params: { name, position } },
      );
    }
    done += bytesRead;
  }
}

async function writeFully(
  file: PositionalFile,
  buffer: Buffer,
  position: number,
  name: string,
): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    let bytesWritten: number;
    try {
      ({ bytesWritten } = await file.write(buffer, done, buffer.length - done, position + done));
    } catch (cause) {
      throw ioError("write", name, position + done, cause);
    }
    if (bytesWritten === 0) {
      throw new EtherplaneError("IO_ERROR", `${name} took no bytes at ${position + done}`, {
        params: { name, position },
      });
    }
    done += bytesWritten;
  }
}

function ioError(op: string, name: string, position: number, cause: unknown): EtherplaneError {
  return new EtherplaneError(
    "IO_ERROR",
    `${op} of ${name} at byte ${position}: ${(cause as Error).message}`,
    { cause, params: { name, position } },
  );
}
