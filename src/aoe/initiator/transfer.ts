/**
 * One read or write of whole sectors as AoE frames: a frame per chunk of `sectorsPerFrame`
 * sectors, at most CHUNKS_QUEUED_MAX queued in the engine at once, one promise for the whole call.
 * The per-frame state is a ChunkExchange (the engine's Exchange, with its callbacks as methods:
 * no closures per frame); a read reply's data is copied once, straight into the caller's buffer.
 * READ request frames are recycled through the device's pool: the header is written once, and
 * each reuse changes only the LBA and sector count (the engine writes MACs and tag at each send).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import {
  ATA_DATA,
  ATA_SECTOR_COUNT,
  SECTOR_BYTES,
  writeLba,
  type AoeHeader,
} from "../codec/index.js";
import type { Exchange, InitiatorEngine, Path } from "./engine.js";
import { ataErrorOf, ataRead, ataWrite } from "./requests.js";

/** Frames one read/write call keeps queued in the engine at most (bounds memory for big calls). */
export const CHUNKS_QUEUED_MAX = 512;
/** READ request frames a device keeps for reuse (60 bytes each). */
export const READ_FRAMES_POOLED_MAX = 1024;

/** What a transfer needs of its device. */
export interface TransferDevice {
  readonly engine: InitiatorEngine;
  readonly paths: readonly Path[];
  readonly shelf: number;
  readonly slot: number;
  readonly name: string;
  readonly sectorsPerFrame: number;
  readonly timeoutMs: number;
  /**
   * READ request frames of this device that are free to reuse: a frame goes back only once its
   * reply came (so the socket has sent it and holds it no longer), never after a failure.
   */
  readonly readFrames: Buffer[];
  /** The device's form of an engine failure (names it and its deadline). */
  named(error: EtherplaneError): EtherplaneError;
}

/** Reads (`write` false) into or writes from `buffer`, whole sectors from `lba`. */
export function transfer(
  device: TransferDevice,
  buffer: Buffer,
  lba: number,
  write: boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    new Transfer(device, buffer, lba, write, resolve, reject).submit();
  });
}

class Transfer {
  private readonly chunkBytes: number;
  private readonly chunks: number;
  private next = 0;
  private done = 0;
  private failed = false;

  constructor(
    readonly device: TransferDevice,
    private readonly buffer: Buffer,
    private readonly lba: number,
    private readonly write: boolean,
    private readonly resolve: () => void,
    private readonly reject: (error: EtherplaneError) => void,
  ) {
    this.chunkBytes = device.sectorsPerFrame * SECTOR_BYTES;
    this.chunks = Math.ceil(buffer.length / this.chunkBytes);
  }

  submit(): void {
    const device = this.device;
    while (!this.failed && this.next < this.chunks && this.next - this.done < CHUNKS_QUEUED_MAX) {
      const i = this.next++;
      const offset = i * this.chunkBytes;
      const bytes = Math.min(this.buffer.length - offset, this.chunkBytes);
      const chunkLba = this.lba + i * device.sectorsPerFrame;
      const frame = this.write
        ? ataWrite(
            device.shelf,
            device.slot,
            chunkLba,
            this.buffer.subarray(offset, offset + bytes),
          )
        : readFrame(device, chunkLba, bytes / SECTOR_BYTES);
      const deadlineMs = device.engine.nowMs() + device.timeoutMs;
      device.engine.submit(new ChunkExchange(this, i, frame, device.paths, deadlineMs));
    }
  }

  /** A chunk's reply (borrowed: valid during this call only). */
  reply(exchange: ChunkExchange, reply: Buffer, header: AoeHeader): void {
    const index = exchange.index;
    if (!this.write && this.device.readFrames.length < READ_FRAMES_POOLED_MAX) {
      this.device.readFrames.push(exchange.frame);
    }
    if (this.failed) return;
    const error =
      ataErrorOf(reply, header, () => this.describe(index)) ?? this.copyOut(index, reply);
    if (error) return this.fail(error);
    this.done++;
    if (this.done === this.chunks) this.resolve();
    else this.submit();
  }

  fail(error: EtherplaneError): void {
    if (this.failed) return;
    this.failed = true;
    this.reject(error);
  }

  /** Copies a read reply's data into the caller's buffer; nothing to do for a write. */
  private copyOut(index: number, reply: Buffer): EtherplaneError | undefined {
    if (this.write) return undefined;
    const offset = index * this.chunkBytes;
    const bytes = Math.min(this.buffer.length - offset, this.chunkBytes);
    if (reply.length < ATA_DATA + bytes) {
      return new EtherplaneError(
        "PROTOCOL",
        `${this.device.name}: read reply carries ${reply.length - ATA_DATA} bytes, expected ${bytes}`,
      );
    }
    reply.copy(this.buffer, offset, ATA_DATA, ATA_DATA + bytes);
    return undefined;
  }

  private describe(index: number): string {
    const what = this.buffer.length > this.chunkBytes ? "a transfer" : "the request";
    return `${what} at sector ${this.lba + index * this.device.sectorsPerFrame}`;
  }
}

/** A READ request frame for `sectors` at `lba`: a pooled one rewritten, or a new one. */
function readFrame(device: TransferDevice, lba: number, sectors: number): Buffer {
  const frame = device.readFrames.pop();
  if (!frame) return ataRead(device.shelf, device.slot, lba, sectors);
  writeLba(frame, lba);
  frame[ATA_SECTOR_COUNT] = sectors;
  return frame;
}

/** One frame of a Transfer, as the engine keeps it in flight. */
class ChunkExchange implements Exchange {
  readonly borrowsReply = true;
  tag = 0;
  path: Path | undefined = undefined;
  sentAtMs = 0;
  attempts = 0;

  constructor(
    private readonly transfer: Transfer,
    readonly index: number,
    public frame: Buffer,
    readonly paths: readonly Path[],
    readonly deadlineMs: number,
  ) {}

  onReply(reply: Buffer, header: AoeHeader): void {
    this.transfer.reply(this, reply, header);
  }

  onFail(error: EtherplaneError): void {
    this.transfer.fail(this.transfer.device.named(error));
  }
}
