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

/**
 * A BlockDevice that also moves several buffers in one system call (preadv/pwritev): the AoE
 * target merges the frames of a batch that touch adjacent sectors into one such call.
 */
export interface VectoredBlockDevice extends BlockDevice {
  /** Fills `buffers` in order from `offsetBytes` on. */
  readv(buffers: readonly Buffer[], offsetBytes: number): Promise<void>;
  /** Writes `buffers` in order from `offsetBytes` on. */
  writev(buffers: readonly Buffer[], offsetBytes: number): Promise<void>;
  /**
   * The open file behind the device, for the AoE target's native fast path to read from
   * (native/af_packet/fast-read.c); undefined when there is none to offer (closed, O_DIRECT).
   */
  nativeFile?(): NativeFile | undefined;
}

export interface NativeFile {
  fd: number;
  /** On tmpfs/ramfs: reads never wait for a disk (and RWF_NOWAIT is not supported there). */
  memoryBacked: boolean;
}

/** Most buffers one readv/writev call takes (Linux IOV_MAX is 1024). */
export const IOVEC_BUFFERS_MAX = 1024;
