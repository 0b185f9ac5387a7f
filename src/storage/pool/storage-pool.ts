/**
 * A storage pool on a storage host: where volumes' bytes live. The agent makes the pool match the
 * controller's desired volumes through these calls, so every call is idempotent (repeating it
 * after a crash converges) and crash-safe (an interrupted call leaves a temporary the next
 * `cleanup()` removes, never a half-made volume under its real name).
 *
 * Implementations: DirectoryPool (sparse files; clones by reflink where the file system has it,
 * else a copy with progress) and BlockPool (existing partitions or logical volumes). They share
 * storage-pool.contract.ts.
 */

export interface PoolVolume {
  volumeId: string;
  /** What the AoE target exports: a file or a block device. */
  path: string;
  sizeBytes: number;
  /** Bytes really allocated (a sparse file allocates only what was written). */
  allocatedBytes: number;
}

export interface PoolCapacity {
  totalBytes: number;
  freeBytes: number;
}

export type Progress = (doneBytes: number, totalBytes: number) => void;

export interface StoragePool {
  readonly kind: "directory" | "block";
  capacity(): Promise<PoolCapacity>;
  /** The volumes present in the pool. */
  list(): Promise<PoolVolume[]>;
  get(volumeId: string): Promise<PoolVolume | undefined>;
  /**
   * Makes an empty (zero-reading) volume; a volume already there with that size is fine (another
   * size is a CONFLICT). BlockPool differs: the volume is a whole device, at least that size,
   * and keeps the device's old bytes (block-pool.ts).
   */
  create(volumeId: string, sizeBytes: number): Promise<PoolVolume>;
  /**
   * Grows a volume; shrinking is refused (INVALID_ARGUMENT); the same size is fine. BlockPool
   * cannot grow a volume past its device (OUT_OF_RANGE).
   */
  resize(volumeId: string, sizeBytes: number): Promise<PoolVolume>;
  /**
   * Makes `targetId` a copy of `sourceId` as it is now (snapshot and clone). `reflinked` tells
   * whether it was a copy-on-write clone (instant) or a byte copy (progress reported).
   * A target already there is fine (returned as it is, `reflinked: false`). A reflink is atomic
   * against writers of the source; a byte copy is not (quiesce the source for a point in time).
   */
  clone(
    sourceId: string,
    targetId: string,
    progress?: Progress,
  ): Promise<PoolVolume & { reflinked: boolean }>;
  /** Removes a volume; one already gone is fine. */
  remove(volumeId: string): Promise<void>;
  /** Removes what interrupted calls left behind. */
  cleanup(): Promise<void>;
}
