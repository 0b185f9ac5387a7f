/**
 * A StoragePool over existing block devices (partitions or logical volumes) that the operator
 * lists: a volume claims one device whole. Which volume claims which device is kept in a small
 * JSON state file, replaced atomically (block-pool-state.ts).
 *
 * What differs from a DirectoryPool, by the nature of devices:
 * - A volume's sizeBytes is its device's size: create claims the smallest free device of at
 *   least the size asked (the asked size is kept as `requestedBytes`), and resize accepts any
 *   size up to the device's (OUT_OF_RANGE beyond: a device does not grow here).
 * - allocatedBytes is the device's size: a device is allocated whole.
 * - A claimed device keeps its old bytes: create does not wipe it and remove does not either,
 *   so a fresh volume is zero-reading only if its device was; callers that hand volumes to
 *   another tenant wipe them (e.g. `blkdiscard --zeroout`). A clone's bytes beyond its source's
 *   size (when it claimed a larger device) are the device's old bytes too.
 * - Devices that something uses (mounted, swap, a device-mapper or md on top) are never claimed.
 * - No reflink: a clone is a byte copy, device to device (copy-bytes.ts), not atomic against
 *   writers of the source. Crash safety: the target's claim is written as "copying" before the
 *   copy and "ready" after its fsync; list() ignores "copying" claims and cleanup() releases the
 *   ones no running call owns.
 *
 * One pool object per state file (the claims live in memory between calls).
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { EtherplaneError } from "../../foundation/errors.js";
import { createLogger, type Logger } from "../../foundation/log.js";
import { blockDeviceBytes, blockDeviceNumber } from "../../block/block-device-size.js";
import { deviceInUse } from "./block-device-info.js";
import {
  loadBlockPoolState,
  saveBlockPoolState,
  type BlockClaim,
  type BlockClaims,
} from "./block-pool-state.js";
import { checkChunkBytes, copyBytes, COPY_CHUNK_BYTES_DEFAULT } from "./copy-bytes.js";
import { fsError, removeFile } from "./durable-fs.js";
import { KeyedLock } from "../../foundation/keyed-lock.js";
import type { PoolCapacity, PoolVolume, Progress, StoragePool } from "./storage-pool.js";
import {
  checkCloneIds,
  checkSizeBytes,
  checkVolumeId,
  notFound,
  shrinkRefused,
  sizeConflict,
} from "./volume-checks.js";

/** Devices one pool may list: a storage host has tens of disks or hundreds of LVs. */
export const BLOCK_DEVICES_MAX = 4096;

export interface BlockPoolOptions {
  /** Chunk of the byte copy (default 1 MiB). */
  copyChunkBytes?: number;
  log?: Logger;
}

/** The key under which state changes take turns (not a valid volume id, so never clashes). */
const STATE_KEY = "#state";

export async function openBlockPool(
  devices: string[],
  stateFile: string,
  options: BlockPoolOptions = {},
): Promise<BlockPool> {
  if (!Array.isArray(devices) || devices.length === 0 || devices.length > BLOCK_DEVICES_MAX) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `a block pool needs 1 to ${BLOCK_DEVICES_MAX} devices, not ${String(devices?.length)}`,
    );
  }
  const seen = new Map<string, string>();
  for (const device of devices) {
    if (typeof device !== "string" || !path.isAbsolute(device)) {
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `device ${String(device)} is not an absolute path`,
      );
    }
    const { major, minor } = await blockDeviceNumber(device);
    const other = seen.get(`${major}:${minor}`);
    if (other !== undefined) {
      throw new EtherplaneError("INVALID_ARGUMENT", `${device} and ${other} are the same device`, {
        params: { device, other },
      });
    }
    seen.set(`${major}:${minor}`, device);
  }
  const file = path.resolve(stateFile);
  const log = options.log ?? createLogger("storage:pool");
  const claims = await loadBlockPoolState(file);
  for (const [volumeId, claim] of claims) {
    if (!devices.includes(claim.device)) {
      log.warn("a volume claims a device the pool no longer lists", { volumeId, ...claim });
    }
  }
  return new BlockPool([...devices], file, claims, {
    copyChunkBytes: checkChunkBytes(options.copyChunkBytes ?? COPY_CHUNK_BYTES_DEFAULT),
    log,
  });
}

export class BlockPool implements StoragePool {
  readonly kind = "block";
  private readonly locks = new KeyedLock({ what: "volume", param: "volumeId" });

  constructor(
    readonly devices: readonly string[],
    readonly stateFile: string,
    /** Always what the state file holds: replaced only after the file is durably written. */
    private claims: BlockClaims,
    private readonly options: Required<BlockPoolOptions>,
  ) {}

  async capacity(): Promise<PoolCapacity> {
    const claimed = this.claimedDevices();
    let totalBytes = 0;
    let freeBytes = 0;
    for (const device of this.devices) {
      const bytes = await blockDeviceBytes(device);
      totalBytes += bytes;
      if (!claimed.has(device) && (await deviceInUse(device)) === undefined) freeBytes += bytes;
    }
    return { totalBytes, freeBytes };
  }

  async list(): Promise<PoolVolume[]> {
    const volumes: PoolVolume[] = [];
    for (const [volumeId, claim] of this.claims) {
      if (claim.state === "ready") volumes.push(await toVolume(volumeId, claim));
    }
    return volumes.sort((a, b) => (a.volumeId < b.volumeId ? -1 : 1));
  }

  async get(volumeId: string): Promise<PoolVolume | undefined> {
    checkVolumeId(volumeId);
    const claim = this.claims.get(volumeId);
    return claim?.state === "ready" ? toVolume(volumeId, claim) : undefined;
  }

  async create(volumeId: string, sizeBytes: number): Promise<PoolVolume> {
    checkVolumeId(volumeId);
    checkSizeBytes(sizeBytes);
    return await this.locks.run([volumeId], async () => {
      const existing = this.claims.get(volumeId);
      if (existing?.state === "ready") {
        if (existing.requestedBytes === sizeBytes) return toVolume(volumeId, existing);
        throw sizeConflict(volumeId, existing.requestedBytes, sizeBytes);
      }
      const claim = await this.claim(volumeId, sizeBytes, "ready");
      this.options.log.info("device claimed", { volumeId, sizeBytes, device: claim.device });
      return toVolume(volumeId, claim);
    });
  }

  async resize(volumeId: string, sizeBytes: number): Promise<PoolVolume> {
    checkVolumeId(volumeId);
    checkSizeBytes(sizeBytes);
    return await this.locks.run([volumeId], async () => {
      const claim = this.readyClaim(volumeId);
      if (sizeBytes < claim.requestedBytes) {
        throw shrinkRefused(volumeId, claim.requestedBytes, sizeBytes);
      }
      const volume = await toVolume(volumeId, claim);
      if (sizeBytes > volume.sizeBytes) {
        throw new EtherplaneError(
          "OUT_OF_RANGE",
          `volume ${volumeId} is device ${claim.device} of ${volume.sizeBytes} bytes: it cannot grow to ${sizeBytes}`,
          { params: { volumeId, sizeBytes, deviceBytes: volume.sizeBytes } },
        );
      }
      if (sizeBytes !== claim.requestedBytes) {
        await this.changeState((claims) =>
          claims.set(volumeId, { ...claim, requestedBytes: sizeBytes }),
        );
      }
      return volume;
    });
  }

  async clone(
    sourceId: string,
    targetId: string,
    progress?: Progress,
  ): Promise<PoolVolume & { reflinked: boolean }> {
    checkCloneIds(sourceId, targetId);
    return await this.locks.run([sourceId, targetId], async () => {
      const existing = this.claims.get(targetId);
      if (existing?.state === "ready")
        return { ...(await toVolume(targetId, existing)), reflinked: false };
      const source = this.readyClaim(sourceId);
      const sourceBytes = await blockDeviceBytes(source.device);
      const startMs = Date.now();
      const claim = await this.claim(targetId, sourceBytes, "copying", source.requestedBytes);
      try {
        await copyDevice(
          source.device,
          claim.device,
          sourceBytes,
          this.options.copyChunkBytes,
          progress,
        );
      } catch (error) {
        await this.release(targetId).catch((releaseError: unknown) =>
          // cleanup() releases it later: the clone's own error is the one to report.
          this.options.log.warn("could not release a failed clone's claim", {
            volumeId: targetId,
            error: String(releaseError),
          }),
        );
        throw error;
      }
      const ready: BlockClaim = { ...claim, state: "ready" };
      await this.changeState((claims) => claims.set(targetId, ready));
      this.options.log.info("volume cloned", {
        sourceId,
        targetId,
        device: claim.device,
        sizeBytes: sourceBytes,
        ms: Date.now() - startMs,
      });
      return { ...(await toVolume(targetId, ready)), reflinked: false };
    });
  }

  async remove(volumeId: string): Promise<void> {
    checkVolumeId(volumeId);
    await this.locks.run([volumeId], () => this.release(volumeId));
  }

  async cleanup(): Promise<void> {
    const abandoned = (claims: BlockClaims): string[] =>
      [...claims]
        .filter(([volumeId, claim]) => claim.state === "copying" && !this.locks.isBusy(volumeId))
        .map(([volumeId]) => volumeId);
    if (abandoned(this.claims).length > 0) {
      // Decided again under the state lock: a clone may have started on one of them meanwhile.
      const released = await this.changeState((claims) => {
        const volumeIds = abandoned(claims);
        volumeIds.forEach((volumeId) => claims.delete(volumeId));
        return volumeIds;
      });
      this.options.log.info("released claims of interrupted clones", { volumeIds: released });
    }
    // State files a crash left half-written (writeFileAtomic's temporaries), under the state
    // lock so that none of them is being written now.
    await this.locks.run([STATE_KEY], async () => {
      const dir = path.dirname(this.stateFile);
      const prefix = `${path.basename(this.stateFile)}.tmp-`;
      let names: string[];
      try {
        names = await fsp.readdir(dir);
      } catch (cause) {
        throw fsError("list", dir, cause);
      }
      for (const name of names.filter((n) => n.startsWith(prefix))) {
        await removeFile(path.join(dir, name));
      }
    });
  }

  private readyClaim(volumeId: string): BlockClaim {
    const claim = this.claims.get(volumeId);
    if (claim?.state !== "ready") throw notFound(volumeId, this.stateFile);
    return claim;
  }

  private claimedDevices(): Set<string> {
    return new Set([...this.claims.values()].map((claim) => claim.device));
  }

  /**
   * Claims the smallest free device of at least `minBytes` for `volumeId` (replacing a
   * "copying" claim a crash left for it), choosing under the state lock so that two calls never
   * pick the same device.
   */
  private async claim(
    volumeId: string,
    minBytes: number,
    state: BlockClaim["state"],
    requestedBytes = minBytes,
  ): Promise<BlockClaim> {
    return await this.changeState(async (claims) => {
      claims.delete(volumeId);
      const claimed = new Set([...claims.values()].map((claim) => claim.device));
      const free: Array<{ device: string; bytes: number }> = [];
      for (const device of this.devices) {
        if (claimed.has(device)) continue;
        const bytes = await blockDeviceBytes(device);
        if (bytes >= minBytes) free.push({ device, bytes });
      }
      free.sort((a, b) => a.bytes - b.bytes || (a.device < b.device ? -1 : 1));
      for (const { device } of free) {
        const reason = await deviceInUse(device);
        if (reason !== undefined) {
          this.options.log.warn("skipping a device in use", { device, reason });
          continue;
        }
        const chosen: BlockClaim = { device, requestedBytes, state };
        claims.set(volumeId, chosen);
        return chosen;
      }
      throw new EtherplaneError(
        "UNAVAILABLE",
        `no free, unused device of at least ${minBytes} bytes for volume ${volumeId}`,
        { params: { volumeId, sizeBytes: minBytes, devices: this.devices.length } },
      );
    });
  }

  private async release(volumeId: string): Promise<void> {
    if (!this.claims.has(volumeId)) return;
    await this.changeState((claims) => claims.delete(volumeId));
    this.options.log.info("device released (not wiped)", { volumeId });
  }

  /** Applies `change` to a copy of the claims, writes it durably, then makes it the claims. */
  private async changeState<T>(change: (claims: BlockClaims) => T | Promise<T>): Promise<T> {
    return await this.locks.run([STATE_KEY], async () => {
      const next: BlockClaims = new Map(this.claims);
      const result = await change(next);
      await saveBlockPoolState(this.stateFile, next);
      this.claims = next;
      return result;
    });
  }
}

async function toVolume(volumeId: string, claim: BlockClaim): Promise<PoolVolume> {
  const sizeBytes = await blockDeviceBytes(claim.device);
  return { volumeId, path: claim.device, sizeBytes, allocatedBytes: sizeBytes };
}

/** Copies `sizeBytes` from one device to another and fsyncs the target. */
async function copyDevice(
  source: string,
  target: string,
  sizeBytes: number,
  chunkBytes: number,
  progress: Progress | undefined,
): Promise<void> {
  let from: fsp.FileHandle;
  try {
    from = await fsp.open(source, "r");
  } catch (cause) {
    throw fsError("open", source, cause);
  }
  try {
    let to: fsp.FileHandle;
    try {
      // O_EXCL on a block device: nobody mounts the target while it is half-copied.
      to = await fsp.open(target, fs.constants.O_WRONLY | fs.constants.O_EXCL);
    } catch (cause) {
      throw fsError("open", target, cause);
    }
    try {
      await copyBytes({
        source: from,
        target: to,
        sizeBytes,
        targetReadsZero: false, // old bytes: every chunk is written, zeros too
        chunkBytes,
        sourceName: source,
        targetName: target,
        ...(progress ? { progress } : {}),
      });
      try {
        await to.sync();
      } catch (cause) {
        throw fsError("fsync", target, cause);
      }
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}
