/**
 * The file-system steps that make a pool crash-safe: a name is only ever given to finished,
 * fsynced bytes (write a temporary, fsync it, rename it into place, fsync the directory so the
 * rename itself survives a power cut: rename(2) is atomic, but durable only after the directory's
 * fsync). All asynchronous, through the libuv thread pool.
 */
import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { fsyncDirectory as fsyncDirectoryOnce, replaceFile } from "../../foundation/atomic-file.js";
import { EtherplaneError } from "../../foundation/errors.js";

/** The suffix of a temporary's name: random, so two calls never share one. */
export function randomSuffix(): string {
  return randomBytes(8).toString("hex");
}

/** Maps a failed file-system call to an error with a code (ENOENT is NOT_FOUND). */
export function fsError(op: string, target: string, cause: unknown): EtherplaneError {
  const errno = (cause as NodeJS.ErrnoException).code;
  return new EtherplaneError(
    errno === "ENOENT" ? "NOT_FOUND" : "IO_ERROR",
    `${op} ${target}: ${(cause as Error).message}`,
    { cause, params: { path: target, errno } },
  );
}

export async function fsyncDirectory(dir: string): Promise<void> {
  try {
    await fsyncDirectoryOnce(dir);
  } catch (cause) {
    throw fsError("fsync directory", dir, cause);
  }
}

/** fsyncs a file by name (after a tool or a copyFile made it). */
export async function fsyncFile(file: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, "r");
    await handle.sync();
  } catch (cause) {
    throw fsError("fsync", file, cause);
  } finally {
    await handle?.close();
  }
}

/** Renames a finished temporary onto its real name and makes the rename durable. */
export async function renameDurably(temporary: string, final: string): Promise<void> {
  try {
    await fsp.rename(temporary, final);
  } catch (cause) {
    throw fsError("rename", `${temporary} to ${final}`, cause);
  }
  await fsyncDirectory(path.dirname(final));
}

/** Replaces `file` with `data` atomically: readers see the old or the new bytes, never a mix. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  try {
    await replaceFile(file, data);
  } catch (cause) {
    throw fsError("write", file, cause);
  }
}

/** Removes a file; one already gone is fine. */
export async function removeFile(file: string): Promise<void> {
  try {
    await fsp.rm(file, { force: true });
  } catch (cause) {
    throw fsError("remove", file, cause);
  }
}
