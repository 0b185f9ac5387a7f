/** Per-export and per-target counters, exposed by `AoeTarget.stats()` and `etherplane aoe stats`. */
import type { DropReason } from "../codec/index.js";

export interface ExportCounters {
  framesIn: number;
  framesOut: number;
  readBytes: number;
  writtenBytes: number;
  readRequests: number;
  writeRequests: number;
  flushes: number;
  /** ATA READs the native fast path answered (also in framesIn, framesOut, readRequests). */
  fastPathReads: number;
  /** ATA WRITEs the native fast path executed (also in framesIn, framesOut, writeRequests). */
  fastPathWrites: number;
  /** preadv/pwritev calls issued: frames for adjacent sectors in one batch share one. */
  ioCalls: number;
  /** Writes that waited for an earlier overlapping write still in flight (write-order.ts). */
  writesOrdered: number;
  /** Copies of writes completed recently, acknowledged without writing again (write-order.ts). */
  writeCopiesAcknowledged: number;
  /** ATA data commands aborted because the aflags W bit disagreed with the opcode. */
  directionAborts: number;
  /** ATA requests answered with an error status (I/O failure, out of range, aborted). */
  ataErrors: number;
  /** I/O failures reported by the backing store. */
  ioErrors: number;
  /** AoE error replies (reserved, bad argument, unsupported version...). */
  aoeErrors: number;
  inFlight: number;
  inFlightMax: number;
  drops: Partial<Record<DropReason, number>>;
}

export function newExportCounters(): ExportCounters {
  return {
    framesIn: 0,
    framesOut: 0,
    readBytes: 0,
    writtenBytes: 0,
    readRequests: 0,
    writeRequests: 0,
    flushes: 0,
    fastPathReads: 0,
    fastPathWrites: 0,
    ioCalls: 0,
    writesOrdered: 0,
    writeCopiesAcknowledged: 0,
    directionAborts: 0,
    ataErrors: 0,
    ioErrors: 0,
    aoeErrors: 0,
    inFlight: 0,
    inFlightMax: 0,
    drops: {},
  };
}

export function countDrop(drops: Partial<Record<DropReason, number>>, reason: DropReason): void {
  drops[reason] = (drops[reason] ?? 0) + 1;
}
