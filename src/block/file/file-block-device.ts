/**
 * A BlockDevice over a regular file or a block device node, using the callback `fs` API (the
 * libuv thread pool), so disk I/O never blocks the event loop.
 */
import * as fs from "node:fs";
import { EtherplaneError } from "../../foundation/errors.js";
import { IOVEC_BUFFERS_MAX, type VectoredBlockDevice } from "../block-device.js";

export interface FileBlockDeviceOptions {
  readOnly?: boolean;
  /** Open with O_DIRECT (buffers and offsets must then be 512-byte aligned). */
  direct?: boolean;
}

function ioError(op: string, path: string, cause: unknown): EtherplaneError {
  return new EtherplaneError("IO_ERROR", `${op} ${path}: ${(cause as Error).message}`, { cause });
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
    return new FileBlockDevice(path, fd, sizeOf(path, fd), readOnly);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

/** Size of a regular file, or of a block device (whose stat size is 0: ask sysfs by dev number). */
function sizeOf(path: string, fd: number): number {
  const stat = fs.fstatSync(fd);
  if (stat.isFile()) return stat.size;
  if (stat.isBlockDevice()) {
    // Linux dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31.
    const major = (stat.rdev >> 8) & 0xfff;
    const minor = (stat.rdev & 0xff) | ((stat.rdev >> 12) & 0xfff00);
    const sectors = Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, "utf8").trim());
    return sectors * 512; // sysfs counts 512-byte sectors whatever the logical block size
  }
  throw new EtherplaneError(
    "INVALID_ARGUMENT",
    `${path} is neither a regular file nor a block device`,
  );
}

export class FileBlockDevice implements VectoredBlockDevice {
  private closed = false;

  constructor(
    readonly path: string,
    private readonly fd: number,
    readonly sizeBytes: number,
    readonly readOnly: boolean,
  ) {}

  private check(op: string, length: number, offsetBytes: number): void {
    if (this.closed) throw new EtherplaneError("CLOSED", `${this.path} is closed`);
    if (offsetBytes < 0 || offsetBytes + length > this.sizeBytes) {
      throw new EtherplaneError(
        "OUT_OF_RANGE",
        `${op} of ${length} bytes at ${offsetBytes} is beyond the end of ${this.path} (${this.sizeBytes} bytes)`,
      );
    }
  }

  read(buffer: Buffer, offsetBytes: number): Promise<void> {
    this.check("read", buffer.length, offsetBytes);
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

  write(buffer: Buffer, offsetBytes: number): Promise<void> {
    if (this.readOnly) {
      return Promise.reject(new EtherplaneError("REFUSED", `${this.path} is read-only`));
    }
    this.check("write", buffer.length, offsetBytes);
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

  readv(buffers: readonly Buffer[], offsetBytes: number): Promise<void> {
    const total = totalBytes(buffers);
    this.check("read", total, offsetBytes);
    return new Promise((resolve, reject) => {
      fs.readv(this.fd, buffers, offsetBytes, (err, n) => {
        if (err) return reject(ioError("read", this.path, err));
        if (n === total) return resolve();
        // Short read (signal, or a file that shrank): finish buffer by buffer.
        this.finishVector(buffers, offsetBytes, n, (b, at) => this.read(b, at)).then(
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
    const total = totalBytes(buffers);
    this.check("write", total, offsetBytes);
    return new Promise((resolve, reject) => {
      fs.writev(this.fd, buffers, offsetBytes, (err, n) => {
        if (err) return reject(ioError("write", this.path, err));
        if (n === total) return resolve();
        this.finishVector(buffers, offsetBytes, n, (b, at) => this.write(b, at)).then(
          resolve,
          reject,
        );
      });
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
