/**
 * The table the AoE target pushes down to the native fast path (native/af_packet/fast-table.c
 * parses it; af-packet.h documents the same layout): which exports of one interface may have
 * their ATA READs (and, flagged writable, WRITEs) answered in C, from which file, and for which
 * source MACs. Pure: built from
 * plain values, little-endian, every field at a named offset.
 *
 *   header  0 export count u32   4 sectors per frame u32   8 target MAC (6)   14 reserved (2)
 *   export  0 shelf u16   2 slot u8   3 flags u8   4 fd i32   8 size in sectors u64
 *           16 admitted MAC count u32   20 reserved (12)   32 admitted MACs (16 x 6)
 */
import { assert } from "../../foundation/assert.js";
import { AOE_SHELF_MAX, AOE_SLOT_MAX, ETH_MAC_BYTES } from "../codec/index.js";

export const FAST_PATH_EXPORTS_MAX = 256;
/** Source MACs one export admits natively; an export restricted to more stays in TypeScript. */
export const FAST_PATH_ADMITTED_MAX = 16;
export const FAST_PATH_HEADER_BYTES = 16;
export const FAST_PATH_ENTRY_BYTES = 32 + FAST_PATH_ADMITTED_MAX * ETH_MAC_BYTES;
/** Counters the addon keeps per export: frames read, bytes read, I/O calls, frames written,
 * bytes written. */
export const FAST_PATH_COUNTERS_PER_EXPORT = 5;

const HEADER_COUNT = 0;
const HEADER_SECTORS_MAX = 4;
const HEADER_MAC = 8;
const ENTRY_SHELF = 0;
const ENTRY_SLOT = 2;
const ENTRY_FLAGS = 3;
const ENTRY_FD = 4;
const ENTRY_SECTORS = 8;
const ENTRY_ADMITTED_COUNT = 16;
const ENTRY_ADMITTED = 32;
const FLAG_MEMORY_BACKED = 1;
const FLAG_ANYONE = 2;
const FLAG_WRITABLE = 4;

export interface FastPathExport {
  shelf: number;
  slot: number;
  fd: number;
  sectors: number;
  memoryBacked: boolean;
  /** Source MACs allowed to read: undefined for anyone, else at most FAST_PATH_ADMITTED_MAX. */
  admitted: readonly Buffer[] | undefined;
  /** Writes may be done natively too (the export's write memory goes with the table). */
  writable?: boolean;
}

/**
 * The sources whose reads both the MAC mask list and the reservation let through (AoEr11 3.3,
 * 3.4): undefined for anyone, else the list (possibly empty: no one); `null` when the list is
 * longer than the fast path holds (the export then stays out of the table).
 */
export function admittedSources(
  macMask: readonly Buffer[],
  reservation: readonly Buffer[],
): readonly Buffer[] | undefined | null {
  let list: readonly Buffer[] | undefined;
  if (macMask.length === 0) list = reservation.length === 0 ? undefined : reservation;
  else if (reservation.length === 0) list = macMask;
  else list = macMask.filter((mac) => reservation.some((held) => held.equals(mac)));
  return list !== undefined && list.length > FAST_PATH_ADMITTED_MAX ? null : list;
}

/** Encodes a table; `exports` in any order (the table is sorted by shelf.slot). */
export function encodeFastPathTable(
  mac: Buffer,
  sectorsMax: number,
  exports: readonly FastPathExport[],
): Buffer {
  assert(exports.length <= FAST_PATH_EXPORTS_MAX, "fast path table: too many exports");
  assert(mac.length === ETH_MAC_BYTES, "fast path table: a MAC is 6 bytes");
  assert(Number.isInteger(sectorsMax) && sectorsMax >= 0 && sectorsMax <= 255, "sectorsMax");
  const sorted = [...exports].sort((a, b) => a.shelf * 256 + a.slot - (b.shelf * 256 + b.slot));
  const table = Buffer.alloc(FAST_PATH_HEADER_BYTES + sorted.length * FAST_PATH_ENTRY_BYTES);
  table.writeUInt32LE(sorted.length, HEADER_COUNT);
  table.writeUInt32LE(sectorsMax, HEADER_SECTORS_MAX);
  mac.copy(table, HEADER_MAC);
  sorted.forEach((e, i) => {
    assert(e.shelf <= AOE_SHELF_MAX && e.slot <= AOE_SLOT_MAX, "fast path table: address");
    assert(Number.isInteger(e.fd) && e.fd >= 0, "fast path table: fd");
    assert(Number.isInteger(e.sectors) && e.sectors >= 0, "fast path table: sectors");
    const admitted = e.admitted ?? [];
    assert(admitted.length <= FAST_PATH_ADMITTED_MAX, "fast path table: admitted list");
    const at = FAST_PATH_HEADER_BYTES + i * FAST_PATH_ENTRY_BYTES;
    table.writeUInt16LE(e.shelf, at + ENTRY_SHELF);
    table[at + ENTRY_SLOT] = e.slot;
    table[at + ENTRY_FLAGS] =
      (e.memoryBacked ? FLAG_MEMORY_BACKED : 0) |
      (e.admitted === undefined ? FLAG_ANYONE : 0) |
      (e.writable === true ? FLAG_WRITABLE : 0);
    table.writeInt32LE(e.fd, at + ENTRY_FD);
    table.writeBigUInt64LE(BigInt(e.sectors), at + ENTRY_SECTORS);
    table.writeUInt32LE(admitted.length, at + ENTRY_ADMITTED_COUNT);
    admitted.forEach((source, k) => {
      assert(source.length === ETH_MAC_BYTES, "fast path table: a MAC is 6 bytes");
      source.copy(table, at + ENTRY_ADMITTED + k * ETH_MAC_BYTES);
    });
  });
  return table;
}
