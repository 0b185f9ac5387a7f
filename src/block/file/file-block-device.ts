/**
 * A BlockDevice over a regular file or a block device node, using the callback `fs` API (the
 * libuv thread pool), so disk I/O never blocks the event loop.
 */
import * as fs from "node:fs";
import { EtherplaneError } from "../../foundation/errors.js";
import { blockDeviceBytes } from "../block-device-size.js";
import { nowaitIo, UNSUPPORTED } from "./nowait-io.js";
import { IOVEC_BUFFERS_MAX, type NativeFile, type VectoredBlockDevice } from "../block-device.js";

export interface FileBlockDeviceOptions {
  readOnly?: boolean;
  /** Open with O_DIRECT (buffers and offsets must then be 512-byte aligned). */
  direct?: boolean;
}

function ioError(op: string, path: string, cause: unknown): EtherplaneError {
  return new EtherplaneError("IO_ERROR", `${op} ${path}: ${(cause as Error).message}`, { cause });
}

/** statfs(2) f_type of file systems that keep their data in memory (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/**
 * A regular file on tmpfs or ramfs: no disk behind it, so moving its bytes never waits for one.
 * Not a device node (/dev/sdb, /dev/vg/lv, /dev/loop0), though statfs(2) of its path reports
 * the tmpfs that /dev is (devtmpfs): its bytes are on a disk, and reading them inline (or from a
 * mapping, as the native fast path does for memory-backed files) would block on that disk.
 */
function isMemoryBacked(path: string, fd: number): boolean {
  if (!fs.fstatSync(fd).isFile()) return false;
  const type = fs.statfsSync(path).type;
  return type === TMPFS_MAGIC || type === RAMFS_MAGIC;
}

function totalBytes(buffers: readonly Buffer[]): number {
  if (buffers.length > IOVEC_BUFFERS_MAX) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${buffers.length} buffers exceed ${IOVEC_BUFFERS_MAX}`,
    );
  }
  let total = 0;
  for (const buffer of buffers) total += buffer.length;
  return total;
}

export async function openFileBlockDevice(
  path: string,
  options: FileBlockDeviceOptions = {},
): Promise<FileBlockDevice> {
  const readOnly = options.readOnly ?? false;
  let flags = readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR;
  if (options.direct) flags |= fs.constants.O_DIRECT;
  let fd: number;
  try {
    fd = await new Promise<number>((resolve, reject) =>
      fs.open(path, flags, (err, opened) => (err ? reject(err) : resolve(opened))),
    );
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new EtherplaneError(
      code === "ENOENT" ? "NOT_FOUND" : "IO_ERROR",
      `cannot open ${path}: ${(cause as Error).message}`,
      { cause, params: { path } },
    );
  }
  try {
    return new FileBlockDevice(
      path,
      fd,
      await sizeOf(path, fd),
      readOnly,
      isMemoryBacked(path, fd),
      options.direct ?? false,
    );
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

/** Size of a regular file, or of a block device (partition, logical volume). */
async function sizeOf(path: string, fd: number): Promise<number> {
  const stat = fs.fstatSync(fd);
  if (stat.isFile()) return stat.size;
  if (stat.isBlockDevice()) return blockDeviceBytes(path);
  throw new EtherplaneError(
    "INVALID_ARGUMENT",
    `${path} is neither a regular file nor a block device`,
  );
}

export class FileBlockDevice implements VectoredBlockDevice {
  private closed = false;
  /** Whether to try RWF_NOWAIT first, per direction (cleared when the file system cannot). */
  private readonly nowait = { read: true, write: true };

  constructor(
    readonly path: string,
    private readonly fd: number,
    readonly sizeBytes: number,
    readonly readOnly: boolean,
    /** On tmpfs/ramfs: moving bytes is a memory copy, done inline (see tryNowait). */
    readonly memoryBacked = false,
    /** Opened with O_DIRECT: buffers must be aligned, so no native fast path reads from it. */
    readonly direct = false,
  ) {}

  nativeFile(): NativeFile | undefined {
    if (this.closed || this.direct) return undefined;
    return { fd: this.fd, memoryBacked: this.memoryBacked };
  }

  /** Checks the device is open and the range inside it; returns the bytes of `buffers`. */
  private check(op: string, buffers: readonly Buffer[], offsetBytes: number): number {
    if (this.closed) throw new EtherplaneError("CLOSED", `${this.path} is closed`);
    const length = totalBytes(buffers);
    if (offsetBytes < 0 || offsetBytes + length > this.sizeBytes) {
      throw new EtherplaneError(
        "OUT_OF_RANGE",
        `${op} of ${length} bytes at ${offsetBytes} is beyond the end of ${this.path} (${this.sizeBytes} bytes)`,
      );
    }
    return length;
  }

  read(buffer: Buffer, offsetBytes: number): Promise<void> {
    return this.readv([buffer], offsetBytes);
  }

  write(buffer: Buffer, offsetBytes: number): Promise<void> {
    return this.writev([buffer], offsetBytes);
  }

  readv(buffers: readonly Buffer[], offsetBytes: number): Promise<void> {
    let total: number;
    let done: number;
    try {
      total = this.check("read", buffers, offsetBytes);
      // Page-cache hits are served inline; the rest (or all, on a miss) goes to the thread pool.
      done = this.tryNowait(false, buffers, offsetBytes);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (done === total) return Promise.resolve();
    if (done > 0)
      return this.finishVector(buffers, offsetBytes, done, (b, at) => this.readPool(b, at));
    return new Promise((resolve, reject) => {
      fs.readv(this.fd, buffers, offsetBytes, (err, n) => {
        if (err) return reject(ioError("read", this.path, err));
        if (n === total) return resolve();
        // Short read (signal, or a file that shrank): finish buffer by buffer.
        this.finishVector(buffers, offsetBytes, n, (b, at) => this.readPool(b, at)).then(
          resolve,
          reject,
        );
      });
    });
  }

  writev(buffers: readonly Buffer[], offsetBytes: number): Promise<void> {
    if (this.readOnly) {
      return Promise.reject(new EtherplaneError("REFUSED", `${this.path} is read-only`));
    }
    let total: number;
    let done: number;
    try {
      total = this.check("write", buffers, offsetBytes);
      done = this.tryNowait(true, buffers, offsetBytes);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (done === total) return Promise.resolve();
    if (done > 0)
      return this.finishVector(buffers, offsetBytes, done, (b, at) => this.writePool(b, at));
    return new Promise((resolve, reject) => {
      fs.writev(this.fd, buffers, offsetBytes, (err, n) => {
        if (err) return reject(ioError("write", this.path, err));
        if (n === total) return resolve();
        this.finishVector(buffers, offsetBytes, n, (b, at) => this.writePool(b, at)).then(
          resolve,
          reject,
        );
      });
    });
  }

  /**
   * Bytes moved without waiting (0 when it would have to wait, or when unsupported). A file in
   * memory (tmpfs) has no disk to wait for: its bytes move at once, as a memory copy (tmpfs has
   * no RWF_NOWAIT). Elsewhere RWF_NOWAIT moves what the page cache holds and never waits.
   */
  private tryNowait(write: boolean, buffers: readonly Buffer[], offsetBytes: number): number {
    const direction = write ? "write" : "read";
    let n: number;
    if (this.memoryBacked) {
      try {
        return write
          ? fs.writevSync(this.fd, buffers, offsetBytes)
          : fs.readvSync(this.fd, buffers, offsetBytes);
      } catch (error) {
        throw ioError(direction, this.path, error);
      }
    }
    if (!nowaitIo || !this.nowait[direction]) return 0;
    try {
      n = write
        ? nowaitIo.pwritev(this.fd, buffers, offsetBytes)
        : nowaitIo.preadv(this.fd, buffers, offsetBytes);
    } catch (error) {
      throw ioError(direction, this.path, error);
    }
    if (n === UNSUPPORTED) this.nowait[direction] = false; // this file system cannot: stop asking
    return Math.max(0, n);
  }

  /** One buffer through the thread pool, looping over short transfers. */
  private readPool(buffer: Buffer, offsetBytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fs.read(this.fd, buffer, done, buffer.length - done, offsetBytes + done, (err, n) => {
          if (err) return reject(ioError("read", this.path, err));
          // A short read inside the device's size only happens on a file that shrank: zero-fill.
          if (n === 0) {
            buffer.fill(0, done);
            return resolve();
          }
          if (done + n < buffer.length) return step(done + n);
          resolve();
        });
      };
      step(0);
    });
  }

  private writePool(buffer: Buffer, offsetBytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fs.write(this.fd, buffer, done, buffer.length - done, offsetBytes + done, (err, n) => {
          if (err) return reject(ioError("write", this.path, err));
          if (done + n < buffer.length) return step(done + n);
          resolve();
        });
      };
      step(0);
    });
  }

  /** Completes a vector operation that moved only `done` bytes, one buffer at a time. */
  private async finishVector(
    buffers: readonly Buffer[],
    offsetBytes: number,
    done: number,
    op: (buffer: Buffer, at: number) => Promise<void>,
  ): Promise<void> {
    let at = 0;
    for (const buffer of buffers) {
      const end = at + buffer.length;
      if (end > done) {
        const skip = Math.max(0, done - at);
        await op(buffer.subarray(skip), offsetBytes + at + skip);
      }
      at = end;
    }
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new EtherplaneError("CLOSED", `${this.path} is closed`));
    return new Promise((resolve, reject) =>
      fs.fdatasync(this.fd, (err) =>
        err ? reject(ioError("fdatasync", this.path, err)) : resolve(),
      ),
    );
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve, reject) =>
      fs.close(this.fd, (err) => (err ? reject(ioError("close", this.path, err)) : resolve())),
    );
  }
}
