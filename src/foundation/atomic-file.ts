/**
 * Writing a small file so that a crash or a power cut leaves the old bytes or the new ones, never
 * a mix: the bytes go to a temporary beside the file (created exclusively, its mode set exactly
 * whatever the umask took), are fsynced, the temporary is renamed over the file (rename(2) is
 * atomic), and the directory is fsynced (the rename is durable only then). A failure removes the
 * temporary and throws the file system's own error: each caller maps it once, at its edge.
 * Temporaries are named `<file>.tmp-<random hex>`, so a crash's leftovers can be found by prefix.
 * One synchronous and one asynchronous form of each, for callers that cannot await.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";

/** The prefix of every temporary that `replaceFile` makes for `file`. */
export function temporaryPrefix(file: string): string {
  return `${path.basename(file)}.tmp-`;
}

const temporaryFor = (file: string) =>
  path.join(path.dirname(file), temporaryPrefix(file) + randomBytes(8).toString("hex"));

/** Replaces (or creates) `file` with `data`, atomically and durably. */
export function replaceFileSync(file: string, data: string, mode = 0o600): void {
  const temporary = temporaryFor(file);
  try {
    writeExclusiveSync(temporary, data, mode);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  fsyncDirectorySync(path.dirname(file));
}

/** Creates `file` with `data`, durably; an existing file is left alone (EEXIST is thrown). */
export function createFileSync(file: string, data: string, mode = 0o600): void {
  let created = false;
  try {
    writeExclusiveSync(file, data, mode, () => (created = true));
  } catch (error) {
    if (created) fs.rmSync(file, { force: true });
    throw error;
  }
  fsyncDirectorySync(path.dirname(file));
}

/** Replaces (or creates) `file` with `data`, atomically and durably. */
export async function replaceFile(file: string, data: string, mode = 0o600): Promise<void> {
  const temporary = temporaryFor(file);
  try {
    const handle = await fsp.open(temporary, "wx", mode);
    try {
      await handle.chmod(mode);
      await handle.writeFile(data, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(temporary, file);
  } catch (error) {
    await fsp.rm(temporary, { force: true });
    throw error;
  }
  await fsyncDirectory(path.dirname(file));
}

/** fsyncs a directory, so the names created, renamed or removed in it survive a power cut. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function fsyncDirectorySync(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeExclusiveSync(file: string, data: string, mode: number, onCreated?: () => void) {
  const fd = fs.openSync(file, "wx", mode);
  onCreated?.();
  try {
    fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, data, "utf8");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
