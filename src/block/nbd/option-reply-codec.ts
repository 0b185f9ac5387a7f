/**
 * The server's side of option haggling: option replies (acks, errors, NBD_REP_SERVER and
 * NBD_REP_INFO with the export's size, flags and block sizes), and the reply to
 * NBD_OPT_EXPORT_NAME that enters transmission directly. Pure, over Buffer.
 *
 * Source: proto.md §Option reply types, §NBD_REP_INFO, §Block size constraints.
 */
import { assert } from "../../foundation/assert.js";
import { assertUint, fail, hex, ok, short, u64, type Decoded } from "./codec-primitives.js";
import {
  NBD_EXPORT_NAME_ZEROES_BYTES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_EXPORT,
  NBD_OPTION_REPLY_MAGIC,
  NBD_OPT_LIST,
  NBD_REP_FLAG_ERROR,
  NBD_REP_INFO,
  NBD_REP_SERVER,
  NBD_STRING_BYTES_MAX,
} from "./protocol-constants.js";

// --- Layouts: byte offset of each field, and the total size (asserted below) ---
/** S: reply magic (64), option (32), reply type (32), data length (32), then data. */
export const OPTION_REPLY = { magic: 0, option: 8, type: 12, length: 16, bytes: 20 } as const;
/** S: export size (64), transmission flags (16), then 124 zeroes unless NO_ZEROES. */
export const EXPORT_NAME_REPLY = { size: 0, flags: 8, bytes: 10 } as const;
/** NBD_REP_INFO data for NBD_INFO_EXPORT: type (16), size (64), transmission flags (16). */
export const INFO_EXPORT = { type: 0, size: 2, flags: 10, bytes: 12 } as const;
/** NBD_REP_INFO data for NBD_INFO_BLOCK_SIZE: type (16), minimum, preferred, maximum (32 each). */
export const INFO_BLOCK_SIZE = { type: 0, min: 2, preferred: 6, max: 10, bytes: 14 } as const;

assert(OPTION_REPLY.length + 4 === OPTION_REPLY.bytes, "option reply header layout");
assert(EXPORT_NAME_REPLY.flags + 2 === EXPORT_NAME_REPLY.bytes, "export name reply layout");
assert(INFO_EXPORT.flags + 2 === INFO_EXPORT.bytes, "NBD_INFO_EXPORT layout");
assert(INFO_BLOCK_SIZE.max + 4 === INFO_BLOCK_SIZE.bytes, "NBD_INFO_BLOCK_SIZE layout");

export function encodeOptionReply(
  option: number,
  replyType: number,
  data: Buffer = Buffer.alloc(0),
): Buffer {
  assertUint(option, 32, "option");
  assertUint(replyType, 32, "reply type");
  const header = Buffer.alloc(OPTION_REPLY.bytes);
  header.writeBigUInt64BE(NBD_OPTION_REPLY_MAGIC, OPTION_REPLY.magic);
  header.writeUInt32BE(option, OPTION_REPLY.option);
  header.writeUInt32BE(replyType, OPTION_REPLY.type);
  header.writeUInt32BE(data.length, OPTION_REPLY.length);
  return Buffer.concat([header, data]);
}

/** An error reply; the message is for display to a human (proto.md §Option reply types). */
export function encodeOptionError(option: number, errorType: number, message: string): Buffer {
  assert(errorType >= NBD_REP_FLAG_ERROR, "option error types have bit 31 set");
  const text = Buffer.from(message, "utf8").subarray(0, NBD_STRING_BYTES_MAX);
  return encodeOptionReply(option, errorType, text);
}

export interface OptionReplyHeader {
  option: number;
  replyType: number;
  dataBytes: number;
}

export function decodeOptionReplyHeader(buffer: Buffer): Decoded<OptionReplyHeader> {
  const truncated = short<OptionReplyHeader>("option reply", buffer, OPTION_REPLY.bytes);
  if (truncated) return truncated;
  const magic = buffer.readBigUInt64BE(OPTION_REPLY.magic);
  if (magic !== NBD_OPTION_REPLY_MAGIC) return fail(`option reply: bad magic ${hex(magic)}`);
  return ok({
    option: buffer.readUInt32BE(OPTION_REPLY.option),
    replyType: buffer.readUInt32BE(OPTION_REPLY.type),
    dataBytes: buffer.readUInt32BE(OPTION_REPLY.length),
  });
}

/** NBD_REP_SERVER data for NBD_OPT_LIST: name length (32), name. */
export function encodeServerReply(name: string): Buffer {
  const bytes = Buffer.from(name, "utf8");
  assert(bytes.length <= NBD_STRING_BYTES_MAX, "export name length");
  const data = Buffer.alloc(4 + bytes.length);
  data.writeUInt32BE(bytes.length, 0);
  bytes.copy(data, 4);
  return encodeOptionReply(NBD_OPT_LIST, NBD_REP_SERVER, data);
}

export function encodeInfoExport(option: number, sizeBytes: number, flags: number): Buffer {
  assertUint(flags, 16, "transmission flags");
  const data = Buffer.alloc(INFO_EXPORT.bytes);
  data.writeUInt16BE(NBD_INFO_EXPORT, INFO_EXPORT.type);
  data.writeBigUInt64BE(u64(sizeBytes, "export size"), INFO_EXPORT.size);
  data.writeUInt16BE(flags, INFO_EXPORT.flags);
  return encodeOptionReply(option, NBD_REP_INFO, data);
}

export interface BlockSizes {
  minBytes: number;
  preferredBytes: number;
  maxBytes: number;
}

/** proto.md §Block size constraints: min and preferred are powers of 2, min <= 64 KiB. */
export function encodeInfoBlockSize(option: number, sizes: BlockSizes): Buffer {
  const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
  assert(pow2(sizes.minBytes) && sizes.minBytes <= 65536, "minimum block size");
  assert(pow2(sizes.preferredBytes), "preferred block size");
  assert(sizes.maxBytes % sizes.minBytes === 0, "maximum is a multiple of the minimum");
  const data = Buffer.alloc(INFO_BLOCK_SIZE.bytes);
  data.writeUInt16BE(NBD_INFO_BLOCK_SIZE, INFO_BLOCK_SIZE.type);
  data.writeUInt32BE(sizes.minBytes, INFO_BLOCK_SIZE.min);
  data.writeUInt32BE(sizes.preferredBytes, INFO_BLOCK_SIZE.preferred);
  data.writeUInt32BE(sizes.maxBytes, INFO_BLOCK_SIZE.max);
  return encodeOptionReply(option, NBD_REP_INFO, data);
}

/** An NBD_REP_INFO reply: its type, and the decoded fields of the types we know. */
export interface InfoReply {
  type: number;
  export?: { sizeBytes: bigint; flags: number };
  blockSizes?: BlockSizes;
}

export function decodeInfoReply(data: Buffer): Decoded<InfoReply> {
  if (data.length < 2) return fail("info reply truncated");
  const type = data.readUInt16BE(0);
  if (type === NBD_INFO_EXPORT) {
    if (data.length !== INFO_EXPORT.bytes) return fail(`NBD_INFO_EXPORT is ${data.length} bytes`);
    const sizeBytes = data.readBigUInt64BE(INFO_EXPORT.size);
    return ok({ type, export: { sizeBytes, flags: data.readUInt16BE(INFO_EXPORT.flags) } });
  }
  if (type === NBD_INFO_BLOCK_SIZE) {
    if (data.length !== INFO_BLOCK_SIZE.bytes) {
      return fail(`NBD_INFO_BLOCK_SIZE is ${data.length} bytes`);
    }
    const blockSizes = {
      minBytes: data.readUInt32BE(INFO_BLOCK_SIZE.min),
      preferredBytes: data.readUInt32BE(INFO_BLOCK_SIZE.preferred),
      maxBytes: data.readUInt32BE(INFO_BLOCK_SIZE.max),
    };
    return ok({ type, blockSizes });
  }
  return ok({ type });
}

/** The reply to NBD_OPT_EXPORT_NAME (not an option reply: it enters transmission directly). */
export function encodeExportNameReply(sizeBytes: number, flags: number, noZeroes: boolean): Buffer {
  assertUint(flags, 16, "transmission flags");
  const buffer = Buffer.alloc(
    EXPORT_NAME_REPLY.bytes + (noZeroes ? 0 : NBD_EXPORT_NAME_ZEROES_BYTES),
  );
  buffer.writeBigUInt64BE(u64(sizeBytes, "export size"), EXPORT_NAME_REPLY.size);
  buffer.writeUInt16BE(flags, EXPORT_NAME_REPLY.flags);
  return buffer;
}
