/**
 * Limits of a storage pool and the checks of the arguments its callers give (untrusted input:
 * validated with a reason, never asserted). Shared by DirectoryPool and BlockPool.
 */
import { EtherplaneError } from "../../foundation/errors.js";

/** A volume id names a file (`<id>.img`) or a state entry: lower-case letters, digits, '-'. */
export const VOLUME_ID_PATTERN = /^[a-z0-9-]{1,64}$/;

/** Volumes are whole 512-byte sectors: AoE/ATA address a disk in sectors (ATA LBA48). */
export const SECTOR_BYTES = 512;

/** 1 PiB: far beyond any one disk here, and well inside Number.MAX_SAFE_INTEGER. */
export const VOLUME_BYTES_MAX = 2 ** 50;

/** How many volumes one pool lists before it gives up (a directory can hold anything). */
export const POOL_VOLUMES_MAX = 100_000;

export function checkVolumeId(volumeId: string): void {
  if (typeof volumeId !== "string" || !VOLUME_ID_PATTERN.test(volumeId)) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `volume id ${JSON.stringify(volumeId)} must be 1-64 of a-z, 0-9 and '-'`,
      { params: { volumeId } },
    );
  }
}

export function checkSizeBytes(sizeBytes: number): void {
  if (
    !Number.isSafeInteger(sizeBytes) ||
    sizeBytes <= 0 ||
    sizeBytes > VOLUME_BYTES_MAX ||
    sizeBytes % SECTOR_BYTES !== 0
  ) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `volume size ${sizeBytes} must be a positive multiple of ${SECTOR_BYTES} bytes up to ${VOLUME_BYTES_MAX}`,
      { params: { sizeBytes } },
    );
  }
}

/** A clone copies a volume onto another name; the same name on both sides is a caller's mistake. */
export function checkCloneIds(sourceId: string, targetId: string): void {
  checkVolumeId(sourceId);
  checkVolumeId(targetId);
  if (sourceId === targetId) {
    throw new EtherplaneError("INVALID_ARGUMENT", `cannot clone ${sourceId} onto itself`, {
      params: { sourceId, targetId },
    });
  }
}

/** A repeated create of the same size converges; another size is a different request. */
export function sizeConflict(
  volumeId: string,
  existingBytes: number,
  sizeBytes: number,
): EtherplaneError {
  return new EtherplaneError(
    "CONFLICT",
    `volume ${volumeId} exists with ${existingBytes} bytes, not ${sizeBytes}`,
    { params: { volumeId, sizeBytes, existingBytes } },
  );
}

export function shrinkRefused(
  volumeId: string,
  existingBytes: number,
  sizeBytes: number,
): EtherplaneError {
  return new EtherplaneError(
    "INVALID_ARGUMENT",
    `volume ${volumeId} has ${existingBytes} bytes: shrinking it to ${sizeBytes} is refused`,
    { params: { volumeId, sizeBytes, existingBytes } },
  );
}

export function notFound(volumeId: string, pool: string): EtherplaneError {
  return new EtherplaneError("NOT_FOUND", `volume ${volumeId} is not in pool ${pool}`, {
    params: { volumeId, pool },
  });
}
