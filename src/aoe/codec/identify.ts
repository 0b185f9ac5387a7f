/**
 * The 512-byte IDENTIFY DEVICE block (ATA/ATAPI-7 volume 1, 4.7.1 and table 16), as much of it as
 * the Linux initiator reads (aoecmd.c `ataid_complete`) plus the strings people look at.
 * Words are little-endian; ATA strings hold two characters a word, the first in the high byte.
 */
import { SECTOR_BYTES } from "./ata.js";

export const IDENTIFY_BYTES = SECTOR_BYTES;

export const IdWord = {
  generalConfig: 0,
  cylinders: 1, // obsolete CHS geometry, still read for LBA28 devices
  heads: 3,
  sectorsPerTrack: 6,
  serial: 10, // 20 characters, words 10-19
  firmware: 23, // 8 characters, words 23-26
  model: 27, // 40 characters, words 27-46
  maxMultiple: 47,
  capabilities: 49,
  capabilities2: 50,
  fieldValidity: 53,
  lba28Sectors: 60, // 2 words
  majorVersion: 80,
  commandSets82: 82,
  commandSets83: 83,
  commandSets84: 84,
  enabled85: 85,
  enabled86: 86,
  enabled87: 87,
  lba48Sectors: 100, // 4 words
} as const;

export const SERIAL_CHARS = 20;
export const FIRMWARE_CHARS = 8;
export const MODEL_CHARS = 40;

/** Word 83/86 bit 10: the 48-bit address feature set; bit 13: FLUSH CACHE EXT; bit 12: FLUSH CACHE. */
export const ID_LBA48 = 1 << 10;
export const ID_FLUSH_CACHE = 1 << 12;
export const ID_FLUSH_CACHE_EXT = 1 << 13;
/** Bit 14 set and bit 15 clear mark words 82-87 valid. */
export const ID_WORDS_VALID = 1 << 14;
const LBA28_SECTORS_MAX = 0x0fffffff;

export interface IdentifyInfo {
  sectors: number;
  lba48: boolean;
  serial: string;
  firmware: string;
  model: string;
}

function writeAtaString(block: Buffer, word: number, chars: number, text: string): void {
  const padded = text
    .replace(/[^\x20-\x7e]/g, "?")
    .padEnd(chars, " ")
    .slice(0, chars);
  for (let i = 0; i < chars; i += 2) {
    block[(word << 1) + i] = padded.charCodeAt(i + 1);
    block[(word << 1) + i + 1] = padded.charCodeAt(i);
  }
}

function readAtaString(block: Buffer, word: number, chars: number): string {
  let text = "";
  for (let i = 0; i < chars; i += 2) {
    text += String.fromCharCode(
      block[(word << 1) + i + 1] as number,
      block[(word << 1) + i] as number,
    );
  }
  return text.trim();
}

function setWord(block: Buffer, word: number, value: number): void {
  block.writeUInt16LE(value & 0xffff, word << 1);
}

export function encodeIdentify(info: IdentifyInfo): Buffer {
  const block = Buffer.alloc(IDENTIFY_BYTES);
  // Geometry as ide-disk does for large disks: 16 heads, 63 sectors, cylinders capped at 16383.
  const cylinders = Math.min(16383, Math.floor(info.sectors / (16 * 63)));
  setWord(block, IdWord.generalConfig, 0x0040); // fixed device
  setWord(block, IdWord.cylinders, cylinders);
  setWord(block, IdWord.heads, 16);
  setWord(block, IdWord.sectorsPerTrack, 63);
  writeAtaString(block, IdWord.serial, SERIAL_CHARS, info.serial);
  writeAtaString(block, IdWord.firmware, FIRMWARE_CHARS, info.firmware);
  writeAtaString(block, IdWord.model, MODEL_CHARS, info.model);
  setWord(block, IdWord.maxMultiple, 0x8000);
  setWord(block, IdWord.capabilities, 0x0200); // LBA supported
  setWord(block, IdWord.capabilities2, 0x4000);
  setWord(block, IdWord.fieldValidity, 0x0007);
  block.writeUInt32LE(Math.min(info.sectors, LBA28_SECTORS_MAX), IdWord.lba28Sectors << 1);
  setWord(block, IdWord.majorVersion, 0x00f0); // ATA-4 to ATA-7
  const sets = ID_WORDS_VALID | ID_FLUSH_CACHE | (info.lba48 ? ID_LBA48 | ID_FLUSH_CACHE_EXT : 0);
  setWord(block, IdWord.commandSets83, sets);
  setWord(block, IdWord.commandSets84, ID_WORDS_VALID);
  setWord(block, IdWord.enabled86, sets & ~ID_WORDS_VALID);
  setWord(block, IdWord.enabled87, ID_WORDS_VALID);
  if (info.lba48) {
    // 64-bit little-endian in words 100-103; sizes stay below 2^53 bytes, so two u32 halves do.
    block.writeUInt32LE(info.sectors % 2 ** 32, IdWord.lba48Sectors << 1);
    block.writeUInt32LE(Math.floor(info.sectors / 2 ** 32), (IdWord.lba48Sectors << 1) + 4);
  }
  return block;
}

/** Reads what the Linux initiator reads: LBA48 from words 83|86 bit 10, then the capacity. */
export function decodeIdentify(block: Buffer): IdentifyInfo | undefined {
  if (block.length < IDENTIFY_BYTES) return undefined;
  const sets =
    block.readUInt16LE(IdWord.commandSets83 << 1) | block.readUInt16LE(IdWord.enabled86 << 1);
  const lba48 = (sets & ID_LBA48) !== 0;
  const sectors = lba48
    ? block.readUInt32LE(IdWord.lba48Sectors << 1) +
      block.readUInt32LE((IdWord.lba48Sectors << 1) + 4) * 2 ** 32
    : block.readUInt32LE(IdWord.lba28Sectors << 1);
  return {
    sectors,
    lba48,
    serial: readAtaString(block, IdWord.serial, SERIAL_CHARS),
    firmware: readAtaString(block, IdWord.firmware, FIRMWARE_CHARS),
    model: readAtaString(block, IdWord.model, MODEL_CHARS),
  };
}
