/**
 * A StoragePool in a directory: each volume is a sparse file `<dir>/<volumeId>.img`.
 *
 * Crash safety: bytes get a volume's name only when they are complete and fsynced. create and
 * clone build `<dir>/.tmp-<volumeId>-<random>`, fsync it, rename it onto the real name and fsync
 * the directory; a crash before the rename leaves only the temporary, which list() never shows
 * and cleanup() removes. resize is one ftruncate (the size changes whole or not at all).
 *
 * Clones try a reflink first (ioctl FICLONE through libuv's copyfile with
 * COPYFILE_FICLONE_FORCE: XFS with reflink=1, btrfs), which is instant and atomic against
 * concurrent writers of the source. Elsewhere (ext4, tmpfs) they fall back to a byte copy with
 * progress that keeps holes sparse but is NOT atomic against writers (copy-bytes.ts): callers
 * that need a point-in-time copy there quiesce the source first.
 *
 * One pool object per directory: two processes sharing a directory would remove each other's
 * temporaries in cleanup().
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { EtherplaneError, isEtherplaneError } from "../../foundation/errors.js";
import { createLogger, type Logger } from "../../foundation/log.js";
import { checkChunkBytes, copyBytes, COPY_CHUNK_BYTES_DEFAULT } from "./copy-bytes.js";
import {
  fsError,
  fsyncDirectory,
  fsyncFile,
  randomSuffix,
  removeFile,
  renameDurably,
} from "./durable-fs.js";
import { KeyedLock } from "../../foundation/keyed-lock.js";
import type { PoolCapacity, PoolVolume, Progress, StoragePool } from "./storage-pool.js";
import {
  checkCloneIds,
  checkSizeBytes,
  checkVolumeId,
  notFound,
  POOL_VOLUMES_MAX,
  SECTOR_BYTES,
  shrinkRefused,
  sizeConflict,
} from "./volume-checks.js";

export interface DirectoryPoolOptions {
  /** "auto" (default): reflink where the file system can, else a byte copy. "never": byte copy. */
  reflink?: "auto" | "never";
  /** Chunk of the byte copy (default 1 MiB). */
  copyChunkBytes?: number;
  log?: Logger;
}

const VOLUME_FILE = /^([a-z0-9-]{1,64})\.img$/;
const TEMPORARY_PREFIX = ".tmp-";

export async function openDirectoryPool(
  dir: string,
  options: DirectoryPoolOptions = {},
): Promise<DirectoryPool> {
  const root = path.resolve(dir);
  let stat: fs.Stats;
  try {
    stat = await fsp.stat(root);
  } catch (cause) {
    throw fsError("open pool directory", root, cause);
  }
  if (!stat.isDirectory()) {
    throw new EtherplaneError("INVALID_ARGUMENT", `pool path ${root} is not a directory`, {
      params: { path: root },
    });
  }
  return new DirectoryPool(root, {
    reflink: options.reflink ?? "auto",
    copyChunkBytes: checkChunkBytes(options.copyChunkBytes ?? COPY_CHUNK_BYTES_DEFAULT),
    log: options.log ?? createLogger("storage:pool"),
  });
}

export class DirectoryPool implements StoragePool {
  readonly kind = "directory";
  private readonly locks = new KeyedLock({ what: "volume", param: "volumeId" });
  /** Temporaries that running calls of this object own: cleanup() leaves them alone. */
  private readonly ownTemporaries = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly options: Required<DirectoryPoolOptions>,
  ) {}

  async capacity(): Promise<PoolCapacity> {
    try {
      const s = await fsp.statfs(this.dir);
      return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
    } catch (cause) {
      throw fsError("statfs", this.dir, cause);
    }
  }

  async list(): Promise<PoolVolume[]> {
    const volumes: PoolVolume[] = [];
    for (const name of await this.names()) {
      const match = VOLUME_FILE.exec(name);
      if (!match?.[1]) continue;
      try {
        const volume = await this.stat(match[1]); // undefined: removed since readdir
        if (volume) volumes.push(volume);
      } catch (error) {
        if (!isEtherplaneError(error, "CONFLICT")) throw error;
        this.options.log.warn("skipping a pool entry that is not a volume", { name });
      }
    }
    return volumes.sort((a, b) => (a.volumeId < b.volumeId ? -1 : 1));
  }

  async get(volumeId: string): Promise<PoolVolume | undefined> {
    checkVolumeId(volumeId);
    return this.stat(volumeId);
  }

  async create(volumeId: string, sizeBytes: number): Promise<PoolVolume> {
    checkVolumeId(volumeId);
    checkSizeBytes(sizeBytes);
    return await this.locks.run([volumeId], async () => {
      const existing = await this.stat(volumeId);
      if (existing) {
        if (existing.sizeBytes === sizeBytes) return existing;
        throw sizeConflict(volumeId, existing.sizeBytes, sizeBytes);
      }
      await this.withTemporary(volumeId, async (temporary) => {
        const handle = await open(temporary, "wx");
        try {
          await handle.truncate(sizeBytes); // a hole: reads as zeros, allocates nothing
          await handle.sync();
        } catch (cause) {
          throw fsError("size", temporary, cause);
        } finally {
          await handle.close();
        }
      });
      return this.mustStat(volumeId);
    });
  }

  async resize(volumeId: string, sizeBytes: number): Promise<PoolVolume> {
    checkVolumeId(volumeId);
    checkSizeBytes(sizeBytes);
    return await this.locks.run([volumeId], async () => {
      const volume = await this.mustStat(volumeId);
      if (sizeBytes < volume.sizeBytes) throw shrinkRefused(volumeId, volume.sizeBytes, sizeBytes);
      if (sizeBytes === volume.sizeBytes) return volume;
      const handle = await open(volume.path, "r+");
      try {
        await handle.truncate(sizeBytes);
        await handle.sync();
      } catch (cause) {
        throw fsError("grow", volume.path, cause);
      } finally {
        await handle.close();
      }
      this.options.log.info("volume grown", { volumeId, sizeBytes });
      return this.mustStat(volumeId);
    });
  }

  async clone(
    sourceId: string,
    targetId: string,
    progress?: Progress,
  ): Promise<PoolVolume & { reflinked: boolean }> {
    checkCloneIds(sourceId, targetId);
    return await this.locks.run([sourceId, targetId], async () => {
      const existing = await this.stat(targetId);
      if (existing) return { ...existing, reflinked: false };
      const source = await this.mustStat(sourceId);
      const startMs = Date.now();
      let reflinked = false;
      await this.withTemporary(targetId, async (temporary) => {
        reflinked = this.options.reflink === "auto" && (await this.tryReflink(source, temporary));
        if (reflinked) progress?.(source.sizeBytes, source.sizeBytes);
        else await this.byteCopy(source, temporary, progress);
      });
      const target = await this.mustStat(targetId);
      this.options.log.info("volume cloned", {
        sourceId,
        targetId,
        reflinked,
        sizeBytes: target.sizeBytes,
        ms: Date.now() - startMs,
      });
      return { ...target, reflinked };
    });
  }

  async remove(volumeId: string): Promise<void> {
    checkVolumeId(volumeId);
    await this.locks.run([volumeId], async () => {
      await removeFile(this.volumePath(volumeId));
      await fsyncDirectory(this.dir);
    });
  }

  async cleanup(): Promise<void> {
    let removed = 0;
    for (const name of await this.names()) {
      if (!name.startsWith(TEMPORARY_PREFIX) || this.ownTemporaries.has(name)) continue;
      await removeFile(path.join(this.dir, name));
      removed += 1;
    }
    if (removed > 0) {
      await fsyncDirectory(this.dir);
      this.options.log.info("removed temporaries of interrupted calls", { dir: this.dir, removed });
    }
  }

  private volumePath(volumeId: string): string {
    return path.join(this.dir, `${volumeId}.img`);
  }

  /** Fills a fresh temporary with `fill`, then renames it onto the volume's name, durably. */
  private async withTemporary(
    volumeId: string,
    fill: (temporary: string) => Promise<void>,
  ): Promise<void> {
    const name = `${TEMPORARY_PREFIX}${volumeId}-${randomSuffix()}`;
    const temporary = path.join(this.dir, name);
    this.ownTemporaries.add(name);
    try {
      await fill(temporary);
      await renameDurably(temporary, this.volumePath(volumeId));
    } catch (error) {
      await removeFile(temporary);
      throw error;
    } finally {
      this.ownTemporaries.delete(name);
    }
  }

  /** A copy-on-write clone, where the file system has one; false (nothing left) where not. */
  private async tryReflink(source: PoolVolume, temporary: string): Promise<boolean> {
    const flags = fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE_FORCE;
    try {
      await fsp.copyFile(source.path, temporary, flags);
    } catch (cause) {
      // EOPNOTSUPP (ext4, tmpfs), EXDEV, EINVAL: not this file system's feature. Anything real
      // (EIO, ENOSPC) shows again in the byte copy, which reports it.
      this.options.log.debug("no reflink, copying bytes", {
        volumeId: source.volumeId,
        reason: (cause as Error).message,
      });
      await removeFile(temporary);
      return false;
    }
    await fsyncFile(temporary);
    return true;
  }

  private async byteCopy(
    source: PoolVolume,
    temporary: string,
    progress: Progress | undefined,
  ): Promise<void> {
    const from = await open(source.path, "r");
    try {
      const to = await open(temporary, "wx");
      try {
        try {
          await to.truncate(source.sizeBytes); // all holes: the copy skips all-zero chunks
        } catch (cause) {
          throw fsError("size", temporary, cause);
        }
        await copyBytes({
          source: from,
          target: to,
          sizeBytes: source.sizeBytes,
          targetReadsZero: true,
          chunkBytes: this.options.copyChunkBytes,
          sourceName: source.path,
          targetName: temporary,
          ...(progress ? { progress } : {}),
        });
        try {
          await to.sync();
        } catch (cause) {
          throw fsError("fsync", temporary, cause);
        }
      } finally {
        await to.close();
      }
    } finally {
      await from.close();
    }
  }

  /** The directory's entry names, bounded. */
  private async names(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of await fsp.opendir(this.dir)) {
        if (names.length >= POOL_VOLUMES_MAX) {
          throw new EtherplaneError(
            "OUT_OF_RANGE",
            `pool directory ${this.dir} holds more than ${POOL_VOLUMES_MAX} entries`,
            { params: { dir: this.dir } },
          );
        }
        names.push(entry.name);
      }
    } catch (cause) {
      if (cause instanceof EtherplaneError) throw cause;
      throw fsError("list", this.dir, cause);
    }
    return names;
  }

  private async stat(volumeId: string): Promise<PoolVolume | undefined> {
    const file = this.volumePath(volumeId);
    let stat: fs.Stats;
    try {
      stat = await fsp.stat(file);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw fsError("stat", file, cause);
    }
    if (!stat.isFile()) {
      throw new EtherplaneError("CONFLICT", `${file} is in the pool but not a regular file`, {
        params: { volumeId, path: file },
      });
    }
    return {
      volumeId,
      path: file,
      sizeBytes: stat.size,
      allocatedBytes: stat.blocks * SECTOR_BYTES, // st_blocks counts 512-byte units (stat(2))
    };
  }

  private async mustStat(volumeId: string): Promise<PoolVolume> {
    const volume = await this.stat(volumeId);
    if (!volume) {
      throw notFound(volumeId, this.dir);
    }
    return volume;
  }
}

async function open(file: string, flags: "r" | "r+" | "wx"): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(file, flags, 0o600);
  } catch (cause) {
    throw fsError("open", file, cause);
  }
}
