/**
 * A fake VectoredBlockDevice in memory, for simulations: optional latency on the simulated clock
 * (a slow disk), injected failures, and a hook that sees every write before it lands (so a
 * simulation can check that each change of the disk came from a valid request).
 */
import { sleep, type Clock } from "../../src/foundation/clock.js";
import { EtherplaneError } from "../../src/foundation/errors.js";
import type { VectoredBlockDevice } from "../../src/block/block-device.js";

export interface MemoryDeviceOptions {
  readOnly?: boolean;
  /** Latency of reads and writes on `clock` (0: they complete as soon as promises run). */
  readLatencyMs?: number;
  writeLatencyMs?: number;
  clock?: Clock;
}

export class MemoryBlockDevice implements VectoredBlockDevice {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  closed = false;
  writes = 0;
  flushes = 0;
  /** Makes the next `n` reads or writes fail with IO_ERROR. */
  failNext = 0;
  /** Sees each buffer of every write, at its offset, before it is applied. */
  onWrite: ((offsetBytes: number, data: Buffer) => void) | undefined;

  constructor(
    readonly bytes: Buffer,
    private readonly options: MemoryDeviceOptions = {},
  ) {
    this.sizeBytes = bytes.length;
    this.readOnly = options.readOnly ?? false;
  }

  private async wait(ms: number | undefined): Promise<void> {
    if (ms && this.options.clock) await sleep(this.options.clock, ms);
  }

  private check(length: number, offset: number): void {
    if (this.closed) throw new EtherplaneError("CLOSED", "the memory device is closed");
    if (offset < 0 || offset + length > this.sizeBytes)
      throw new EtherplaneError("OUT_OF_RANGE", `${length} bytes at ${offset}`);
    if (this.failNext > 0) {
      this.failNext--;
      throw new EtherplaneError("IO_ERROR", "injected failure");
    }
  }

  async readv(buffers: readonly Buffer[], offsetBytes: number): Promise<void> {
    await this.wait(this.options.readLatencyMs);
    const total = buffers.reduce((sum, b) => sum + b.length, 0);
    this.check(total, offsetBytes);
    let at = offsetBytes;
    for (const buffer of buffers) {
      this.bytes.copy(buffer, 0, at, at + buffer.length);
      at += buffer.length;
    }
  }

  async writev(buffers: readonly Buffer[], offsetBytes: number): Promise<void> {
    await this.wait(this.options.writeLatencyMs);
    const total = buffers.reduce((sum, b) => sum + b.length, 0);
    this.check(total, offsetBytes);
    if (this.readOnly) throw new EtherplaneError("REFUSED", "read-only memory device");
    let at = offsetBytes;
    for (const buffer of buffers) {
      this.onWrite?.(at, buffer);
      buffer.copy(this.bytes, at);
      at += buffer.length;
    }
    this.writes++;
  }

  read(buffer: Buffer, offsetBytes: number): Promise<void> {
    return this.readv([buffer], offsetBytes);
  }

  write(buffer: Buffer, offsetBytes: number): Promise<void> {
    return this.writev([buffer], offsetBytes);
  }

  flush(): Promise<void> {
    this.flushes++;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
