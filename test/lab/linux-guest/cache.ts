/**
 * The lab's build cache, outside the repository: `$ETHERPLANE_CACHE` or `/var/cache/etherplane`.
 *
 * Two rules make it safe when test processes run concurrently or are killed half way:
 * - every entry is produced under a temporary name and renamed into place once complete, so a
 *   reader never sees a half-written file or folder;
 * - a builder holds a lock for its entry (flock, released by the kernel if the holder dies), so
 *   concurrent processes build it once and only the holder touches the entry's temporaries.
 */
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { EtherplaneError, errorFields } from "../../../src/foundation/errors.js";
import { createLogger } from "../../../src/foundation/log.js";

const log = createLogger("lab:linux-guest");

export const cacheDirDefault = "/var/cache/etherplane";
/** A build takes seconds; someone holding the lock longer is stuck. */
const lockWaitS = 10 * 60;

export function cacheRoot(): string {
  return process.env["ETHERPLANE_CACHE"] || cacheDirDefault;
}

/** A fresh temporary name next to `finalPath`; `publish` renames it into place. */
export function temporaryPathFor(finalPath: string): string {
  return `${finalPath}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Renames a completed temporary file or folder to `finalPath`. A folder already published by
 * someone else wins (rename fails with ENOTEMPTY/EEXIST): ours is discarded.
 */
export async function publish(temporaryPath: string, finalPath: string): Promise<void> {
  try {
    await rename(temporaryPath, finalPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    await rm(temporaryPath, { recursive: true, force: true });
  }
}

/**
 * Removes leftovers of interrupted builds of `finalPath` (call while holding its lock). Only
 * hygiene: a killed run's orphaned child (dpkg-deb) may still be writing there, so failures are
 * logged, not thrown; the new build uses fresh temporary names anyway.
 */
export async function removeStaleTemporaries(finalPath: string): Promise<void> {
  const prefix = `${basename(finalPath)}.tmp-`;
  const entries = await readdir(dirname(finalPath)).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const path = join(dirname(finalPath), entry);
    await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(
      (error: unknown) =>
        log.warn("stale cache temporary not removed", { path, ...errorFields(error) }),
    );
  }
}

/**
 * Runs `build` while holding an exclusive flock(2) on `${entryPath}.lock`, through util-linux
 * `flock` holding the lock for as long as its stdin stays open. The kernel drops the lock when the
 * holder dies, so an interrupted run never leaves a stale lock behind (an mkdir lock would need
 * stale-lock breaking, which races between two waiters).
 */
export async function withCacheLock<T>(entryPath: string, build: () => Promise<T>): Promise<T> {
  const lockPath = `${entryPath}.lock`;
  await mkdir(dirname(lockPath), { recursive: true });
  const holder = spawn(
    "flock",
    [
      "--exclusive",
      "--timeout",
      String(lockWaitS),
      lockPath,
      "sh",
      "-c",
      "echo locked; exec cat >/dev/null",
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  const exited = new Promise<number | null>((resolve) => holder.once("close", resolve));
  let stderr = "";
  holder.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const locked = await new Promise<boolean>((resolve, reject) => {
    holder.once("error", (error) =>
      reject(
        new EtherplaneError("UNAVAILABLE", `cannot run flock: ${error.message}`, { cause: error }),
      ),
    );
    holder.stdout.once("data", () => resolve(true));
    void exited.then(() => resolve(false));
  });
  if (!locked) {
    throw new EtherplaneError("TIMEOUT", `cache lock ${lockPath} not acquired: ${stderr.trim()}`, {
      params: { lockPath, lockWaitS },
    });
  }
  try {
    return await build();
  } finally {
    holder.stdin.end();
    await exited;
  }
}

/**
 * The cache entry `entryPath` (a file or a folder), built once: when `isComplete` says it is not
 * there yet, takes its lock, looks again (another process may have built it meanwhile), removes
 * leftovers of interrupted builds, and has `build` write a fresh temporary path that is then
 * renamed into place; the temporary is removed whatever happens. Resolves true when this call
 * built the entry.
 */
export async function cachedEntry(
  entryPath: string,
  build: (temporaryPath: string) => Promise<void>,
  isComplete: (entryPath: string) => Promise<boolean> = exists,
): Promise<boolean> {
  if (await isComplete(entryPath)) return false;
  return withCacheLock(entryPath, async () => {
    if (await isComplete(entryPath)) return false;
    await removeStaleTemporaries(entryPath);
    const temporary = temporaryPathFor(entryPath);
    try {
      await build(temporary);
      await publish(temporary, entryPath);
      return true;
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
  });
}
