/**
 * An AoE volume as a BlockDevice: reads and writes are split into frames of the largest size every
 * path allows, kept in flight up to the paths' windows, and spread over all paths (multipath).
 * Unaligned requests are widened to whole sectors (a write then reads the edge sectors first; that
 * read-modify-write is not atomic against another writer of the same sectors).
 */
import { assert } from "../../foundation/assert.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import type { BlockDevice } from "../../block/block-device.js";
import { AtaCommand, SECTOR_BYTES } from "../codec/index.js";
import type { DiscoveredTarget } from "./discovery.js";
import { enginePaths } from "./discovery.js";
import type { InitiatorEngine, Path } from "./engine.js";
import { ataCommand, ataErrorOf } from "./requests.js";
import { transfer, type TransferDevice } from "./transfer.js";

export interface AoeBlockDeviceOptions {
  /**
   * How long one frame may keep being retransmitted before the request fails (the caller sees an
   * I/O error; a guest on the NBD bridge sees EIO). REQUEST_TIMEOUT_MS_DEFAULT when absent.
   */
  requestTimeoutMs?: number;
}

/** A request's deadline: long enough to ride out a target restart or a short SAN outage. */
export const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
/** Below a second, a loaded host's scheduling delays alone would fail healthy requests. */
export const REQUEST_TIMEOUT_MS_MIN = 1_000;
/** Ten minutes: past that a guest's I/O hangs rather than fails. */
export const REQUEST_TIMEOUT_MS_MAX = 600_000;

const log = createLogger("aoe:initiator");

/** The sectors [start, end) of a write. */
interface WriteRange {
  start: number;
  end: number;
}

export class AoeBlockDevice implements BlockDevice {
  readonly sizeBytes: number;
  readonly readOnly = false;
  readonly sectorsPerFrame: number;
  private readonly paths: Path[];
  private readonly timeoutMs: number;
  private closed = false;
  private warnedNoFlush = false;
  /** Writes issued and not settled yet, with a promise that settles with each (never rejects). */
  private readonly writes = new Map<WriteRange, Promise<void>>();
  /** What each read/write's Transfer needs (transfer.ts). */
  private readonly transferDevice: TransferDevice;

  constructor(
    private readonly engine: InitiatorEngine,
    readonly target: DiscoveredTarget,
    options: AoeBlockDeviceOptions = {},
  ) {
    if (!target.identify || target.paths.length === 0) {
      throw new EtherplaneError(
        "UNAVAILABLE",
        `e${target.shelf}.${target.slot} did not answer IDENTIFY (state: ${target.state})`,
      );
    }
    this.sizeBytes = target.identify.sectors * SECTOR_BYTES;
    this.sectorsPerFrame = Math.max(1, Math.min(...target.paths.map((p) => p.sectorsMax)));
    this.paths = enginePaths(engine, target);
    this.timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
    assert(
      Number.isInteger(this.timeoutMs) &&
        this.timeoutMs >= REQUEST_TIMEOUT_MS_MIN &&
        this.timeoutMs <= REQUEST_TIMEOUT_MS_MAX,
      `request timeout ${this.timeoutMs} ms is out of bounds (callers check it)`,
    );
    this.transferDevice = {
      engine,
      paths: this.paths,
      shelf: target.shelf,
      slot: target.slot,
      name: this.name,
      sectorsPerFrame: this.sectorsPerFrame,
      timeoutMs: this.timeoutMs,
      readFrames: [],
      named: (error) => this.named(error),
    };
  }

  get name(): string {
    return `e${this.target.shelf}.${this.target.slot}`;
  }

  /** Paths in use, with their RTT estimate and reply counts (for `--verbose` and tests). */
  pathStats(): Array<{
    ifname: string;
    mac: string;
    window: number;
    replies: number;
    srttMs: number;
  }> {
    return this.paths.map((path, i) => ({
      ifname: path.socket.ifname,
      mac: this.target.paths[i]?.mac ?? "",
      window: path.window,
      replies: path.replies,
      srttMs: path.srttMs,
    }));
  }

  private check(length: number, offset: number): void {
    if (this.closed) throw new EtherplaneError("CLOSED", `${this.name} is closed`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.sizeBytes) {
      throw new EtherplaneError(
        "OUT_OF_RANGE",
        `${length} bytes at ${offset} are beyond the end of ${this.name} (${this.sizeBytes} bytes)`,
      );
    }
  }

  async read(buffer: Buffer, offsetBytes: number): Promise<void> {
    this.check(buffer.length, offsetBytes);
    if (buffer.length === 0) return;
    const start = Math.floor(offsetBytes / SECTOR_BYTES) * SECTOR_BYTES;
    const end = Math.ceil((offsetBytes + buffer.length) / SECTOR_BYTES) * SECTOR_BYTES;
    if (start === offsetBytes && end === offsetBytes + buffer.length)
      return this.readSectors(buffer, start / SECTOR_BYTES);
    const wide = Buffer.alloc(end - start);
    await this.readSectors(wide, start / SECTOR_BYTES);
    wide.copy(buffer, 0, offsetBytes - start, offsetBytes - start + buffer.length);
  }

  async write(buffer: Buffer, offsetBytes: number): Promise<void> {
    this.check(buffer.length, offsetBytes);
    if (buffer.length === 0) return;
    const start = Math.floor(offsetBytes / SECTOR_BYTES) * SECTOR_BYTES;
    const end = Math.ceil((offsetBytes + buffer.length) / SECTOR_BYTES) * SECTOR_BYTES;
    if (start === offsetBytes && end === offsetBytes + buffer.length)
      return this.writeSectors(buffer, start / SECTOR_BYTES);
    const wide = Buffer.alloc(end - start);
    await this.readSectors(wide.subarray(0, SECTOR_BYTES), start / SECTOR_BYTES);
    if (end - start > SECTOR_BYTES) {
      await this.readSectors(wide.subarray(wide.length - SECTOR_BYTES), end / SECTOR_BYTES - 1);
    }
    buffer.copy(wide, offsetBytes - start);
    await this.writeSectors(wide, start / SECTOR_BYTES);
  }

  /** Reads whole sectors starting at `lba` into `buffer` (a multiple of 512 bytes). */
  readSectors(buffer: Buffer, lba: number): Promise<void> {
    return transfer(this.transferDevice, buffer, lba, false);
  }

  /**
   * Writes whole sectors from `buffer` (a multiple of 512 bytes) starting at `lba`. A write that
   * overlaps writes issued before it and not yet acknowledged waits for them: their frames may
   * still be retransmitted (each copy with a fresh tag, which the target must execute), and a
   * late copy of an earlier write would otherwise land after this one. So concurrent writes to
   * the same sectors end as the last one issued, on any link (lossy-link.test.ts).
   */
  writeSectors(buffer: Buffer, lba: number): Promise<void> {
    const range: WriteRange = { start: lba, end: lba + buffer.length / SECTOR_BYTES };
    const earlier: Array<Promise<void>> = [];
    for (const [other, settled] of this.writes)
      if (other.start < range.end && range.start < other.end) earlier.push(settled);
    const run = () => transfer(this.transferDevice, buffer, lba, true);
    const result = earlier.length === 0 ? run() : Promise.all(earlier).then(run);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.writes.set(range, settled);
    void settled.then(() => this.writes.delete(range));
    return result;
  }

  /**
   * FLUSH CACHE EXT to every target serving this device (each MAC may be a different target).
   * A target that aborts it (vblade does not implement it) gets FLUSH CACHE; if it aborts that too,
   * its write acknowledgements are all the durability it offers: that is logged once, not failed.
   */
  async flush(): Promise<void> {
    if (this.closed) throw new EtherplaneError("CLOSED", `${this.name} is closed`);
    await Promise.all(this.paths.map((path) => this.flushPath(path)));
  }

  private async flushPath(path: Path): Promise<void> {
    for (const command of [AtaCommand.flushCacheExt, AtaCommand.flushCache]) {
      try {
        await this.command(path, command);
        return;
      } catch (error) {
        if (!(error instanceof EtherplaneError) || error.params["ataAbort"] !== true) throw error;
      }
    }
    if (!this.warnedNoFlush) {
      this.warnedNoFlush = true;
      log.warn(
        `${this.name}: the target does not implement FLUSH CACHE; it acknowledges writes when it has written them, and that is all the durability it offers`,
      );
    }
  }

  private command(path: Path, command: number): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.engine.submit({
        frame: ataCommand(this.target.shelf, this.target.slot, command),
        paths: [path],
        deadlineMs: this.engine.clock.nowMs() + this.timeoutMs,
        onReply: (reply, header) => {
          const error = ataErrorOf(reply, header, `ATA command 0x${command.toString(16)}`);
          if (error) reject(error);
          else resolve();
        },
        onFail: (error) => reject(this.named(error)),
      }),
    );
  }

  /** A request's failure naming the device and, for a timeout, the deadline it ran out of. */
  private named(error: EtherplaneError): EtherplaneError {
    if (error.code !== "TIMEOUT") return error;
    return new EtherplaneError(
      "TIMEOUT",
      `${this.name}: ${error.message} (request deadline ${this.timeoutMs} ms)`,
      { cause: error, params: { ...error.params, requestTimeoutMs: this.timeoutMs } },
    );
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
