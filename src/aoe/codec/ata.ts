/**
 * AoE command 0: issue ATA command (AoEr11 section 3.1; Linux drivers/block/aoe/aoe.h `struct
 * aoe_atahdr`; vblade ata.c).
 *
 *   24 aflags (1)   25 err/feature (1)   26 sector count (1)   27 cmd/status (1)
 *   28 lba0..lba5 (6, least-significant byte first)   34 reserved (2)   36 data
 */
import {
  AoeCommand,
  writeReplyHeader,
  allocFrame,
  invalid,
  writeHeader,
  type AoeHeader,
  type HeaderFields,
  type Invalid,
} from "./header.js";

export const ATA_AFLAGS = 24;
export const ATA_ERR_FEATURE = 25;
export const ATA_SECTOR_COUNT = 26;
export const ATA_CMD_STATUS = 27;
export const ATA_LBA = 28;
export const ATA_LBA_BYTES = 6;
export const ATA_RESERVED = 34;
export const ATA_DATA = 36;
export const ATA_HEADER_BYTES = ATA_DATA;
export const SECTOR_BYTES = 512;

/** aflags bits (AoEr11 3.1). */
export const AFLAG_LBA48 = 0x40;
export const AFLAG_DEVICE = 0x10;
export const AFLAG_ASYNC = 0x02;
export const AFLAG_WRITE = 0x01;

/** The ATA commands an AoE target serves (ATA/ATAPI-7 volume 1). */
export const AtaCommand = {
  readSectors: 0x20,
  readSectorsExt: 0x24,
  writeSectors: 0x30,
  writeSectorsExt: 0x34,
  checkPowerMode: 0xe5,
  flushCache: 0xe7,
  flushCacheExt: 0xea,
  identifyDevice: 0xec,
} as const;

/** ATA status register bits. */
export const AtaStatus = {
  err: 0x01,
  drq: 0x08,
  df: 0x20,
  drdy: 0x40,
  bsy: 0x80,
} as const;

/** ATA error register bits. */
export const AtaErrorBits = {
  abrt: 0x04, // command aborted: unknown command or bad argument
  idnf: 0x10, // ID not found: address out of range
  unc: 0x40, // uncorrectable data error: a media (I/O) failure
} as const;

/** LBA28 uses 28 bits; the kernel puts 0xE0 (LBA mode | device) in the top byte (aoecmd.c). */
export const LBA28_MASK = 0x0fffffff;
export const LBA48_MAX = 2 ** 48 - 1;

/** CHECK POWER MODE's answer in the sector count register: active or idle. */
export const POWER_MODE_ACTIVE = 0xff;

export interface AtaArgs {
  aflags: number;
  errFeature: number;
  sectorCount: number;
  cmdStatus: number;
  /** The LBA as sent (48 bits, least-significant byte first); callers mask LBA28 themselves. */
  lba: number;
}

export interface AtaRequest {
  ok: true;
  command: typeof AoeCommand.ata;
  header: AoeHeader;
  ata: AtaArgs;
  /** The bytes after the ATA header; for writes, at least sectorCount × 512 (checked). */
  data: Buffer;
}

export function readLba(frame: Buffer, offset = ATA_LBA): number {
  // 48 bits, little-endian: readUIntLE handles up to 6 bytes exactly.
  return frame.readUIntLE(offset, ATA_LBA_BYTES);
}

export function writeLba(frame: Buffer, lba: number, offset = ATA_LBA): void {
  frame.writeUIntLE(lba, offset, ATA_LBA_BYTES);
}

export function isWriteCommand(command: number): boolean {
  return command === AtaCommand.writeSectors || command === AtaCommand.writeSectorsExt;
}

export function isReadCommand(command: number): boolean {
  return command === AtaCommand.readSectors || command === AtaCommand.readSectorsExt;
}

/** The effective LBA of a read/write: masked to 28 bits unless the command is an EXT one. */
export function effectiveLba(ata: AtaArgs): number {
  const ext =
    ata.cmdStatus === AtaCommand.readSectorsExt || ata.cmdStatus === AtaCommand.writeSectorsExt;
  return ext ? ata.lba : ata.lba & LBA28_MASK;
}

/**
 * Decodes an ATA request. Structural checks only: the frame holds the ATA header, and a write
 * holds the sector count's worth of data (a lying count is dropped before anything is read).
 */
export function decodeAtaRequest(frame: Buffer, header: AoeHeader): AtaRequest | Invalid {
  if (frame.length < ATA_HEADER_BYTES) return invalid("truncated");
  const ata: AtaArgs = {
    aflags: frame[ATA_AFLAGS] as number,
    errFeature: frame[ATA_ERR_FEATURE] as number,
    sectorCount: frame[ATA_SECTOR_COUNT] as number,
    cmdStatus: frame[ATA_CMD_STATUS] as number,
    lba: readLba(frame),
  };
  if (isWriteCommand(ata.cmdStatus) || (ata.aflags & AFLAG_WRITE) !== 0) {
    if (frame.length - ATA_DATA < ata.sectorCount * SECTOR_BYTES) return invalid("truncated");
  }
  return { ok: true, command: AoeCommand.ata, header, ata, data: frame.subarray(ATA_DATA) };
}

/** Writes the ATA argument block at offset 24. */
export function writeAtaArgs(frame: Buffer, ata: AtaArgs): void {
  frame[ATA_AFLAGS] = ata.aflags;
  frame[ATA_ERR_FEATURE] = ata.errFeature;
  frame[ATA_SECTOR_COUNT] = ata.sectorCount;
  frame[ATA_CMD_STATUS] = ata.cmdStatus;
  writeLba(frame, ata.lba);
  frame.writeUInt16BE(0, ATA_RESERVED);
}

/**
 * A complete ATA frame (request or response) with room for `dataBytes` after the header.
 * The data area is zero-filled; a reader may fill it in place (`frame.subarray(ATA_DATA)`).
 */
export function encodeAtaFrame(fields: HeaderFields, ata: AtaArgs, dataBytes = 0): Buffer {
  const frame = allocFrame(ATA_DATA + dataBytes);
  writeHeader(frame, { ...fields, command: AoeCommand.ata });
  writeAtaArgs(frame, ata);
  return frame;
}

/**
 * Sectors per frame for an interface MTU: (MTU − 36) / 512, 2 at 1500 and 17 at 9000. The kernel
 * computes the same (aoecmd.c: `(mtu - sizeof(struct aoe_hdr) - sizeof(struct aoe_atahdr)) / 512`,
 * where aoe_hdr counts the Ethernet header), so a target must not promise more.
 */
export function sectorsPerFrame(mtu: number): number {
  return Math.max(0, Math.min(255, Math.floor((mtu - ATA_DATA) / SECTOR_BYTES)));
}

/**
 * Writes bytes 0-36 of an ATA reply: the request's header and ATA arguments echoed, addresses
 * swapped, the response flag, and the given status, error and sector count registers.
 */
export function writeAtaReplyHeader(
  reply: Buffer,
  request: Buffer,
  ownMac: Buffer,
  status: number,
  error: number,
  sectorCount: number,
): void {
  writeReplyHeader(reply, request, ownMac);
  request.copy(reply, ATA_AFLAGS, ATA_AFLAGS, ATA_DATA);
  reply[ATA_ERR_FEATURE] = error;
  reply[ATA_SECTOR_COUNT] = sectorCount;
  reply[ATA_CMD_STATUS] = status;
}
