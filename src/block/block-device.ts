/**
 * A block device the data path reads and writes: a backing file or block device for the AoE
 * target, an AoE volume for the NBD bridge. Offsets and lengths are in bytes; callers keep them
 * within `sizeBytes` (implementations check and reject with OUT_OF_RANGE).
 */
export interface BlockDevice {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /** Fills `buffer` from `offsetBytes`. */
  read(buffer: Buffer, offsetBytes: number): Promise<void>;
  /** Writes `buffer` at `offsetBytes`. */
  write(buffer: Buffer, offsetBytes: number): Promise<void>;
  /** Resolves when every write that resolved before this call is on stable storage. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
