/**
 * The NBD wire format, fixed newstyle handshake and simple replies only: pure encoders and
 * decoders over Buffer, no I/O. Every number is big-endian ("network byte order").
 *
 * Source: the NBD protocol, NetworkBlockDevice/nbd doc/proto.md, sections "Fixed newstyle
 * negotiation", "Option types", "Option reply types", "Request message", "Simple reply message",
 * "Block size constraints" and "Error values". Section names are cited below as proto.md §Name.
 *
 * Decoders take untrusted bytes and never throw: they return `{ ok: false, reason }`. Encoders
 * take the program's own values and assert them (a bad value there is our bug).
 */
import { assert } from "../../foundation/assert.js";

// --- Magics (proto.md §Newstyle negotiation, §Request message, §Simple reply message) ---
export const NBD_MAGIC = 0x4e42444d41474943n; // ASCII "NBDMAGIC" (INIT_PASSWD)
export const NBD_IHAVEOPT = 0x49484156454f5054n; // ASCII "IHAVEOPT"
export const NBD_OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;

// --- Handshake flags, 16 bits, sent by the server (proto.md §Handshake flags) ---
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;

// --- Client flags, 32 bits (proto.md §Client flags); any other bit: the server must hang up ---
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// --- Transmission flags, 16 bits (proto.md §Transmission flags) ---
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_ROTATIONAL = 1 << 4;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

// --- Options (proto.md §Option types) ---
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;

// --- Option reply types (proto.md §Option reply types); errors have bit 31 set ---
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_FLAG_ERROR = 2 ** 31;
export const NBD_REP_ERR_UNSUP = NBD_REP_FLAG_ERROR + 1;
export const NBD_REP_ERR_POLICY = NBD_REP_FLAG_ERROR + 2;
export const NBD_REP_ERR_INVALID = NBD_REP_FLAG_ERROR + 3;
export const NBD_REP_ERR_UNKNOWN = NBD_REP_FLAG_ERROR + 6;
export const NBD_REP_ERR_SHUTDOWN = NBD_REP_FLAG_ERROR + 7;

// --- Information types in NBD_REP_INFO replies (proto.md §NBD_REP_INFO) ---
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// --- Commands (proto.md §Request types) ---
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;

// --- Command flags, 16 bits (proto.md §Command flags) ---
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_DF = 1 << 2;

// --- Error values in simple replies (proto.md §Error values) ---
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ESHUTDOWN = 108;

// --- Limits ---
/** proto.md §Conventions: strings (export names, messages) MUST be no longer than 4096 bytes. */
export const NBD_STRING_BYTES_MAX = 4096;
/**
 * Largest option payload we accept: an NBD_OPT_GO with a maximal name and 64 info requests.
 * Larger ones are treated as a denial of service (proto.md §Termination ... during option
 * haggling allows a hard disconnect then).
 */
export const NBD_OPTION_DATA_BYTES_MAX = 4 + NBD_STRING_BYTES_MAX + 2 + 2 * 64;
/**
 * The largest READ or WRITE we serve. proto.md §Block size constraints: the maximum "SHOULD be at
 * least 2^25 (33,554,432)", and clients avoid larger requests unless told otherwise.
 */
export const NBD_PAYLOAD_BYTES_MAX = 32 * 1024 * 1024;
/** The 124 reserved zero bytes after an NBD_OPT_EXPORT_NAME reply (unless NO_ZEROES). */
export const NBD_EXPORT_NAME_ZEROES_BYTES = 124;

// --- Layouts: byte offset of each field, and the total size (asserted below) ---
/** S: NBDMAGIC (64), IHAVEOPT (64), handshake flags (16). */
export const GREETING = { magic: 0, ihaveopt: 8, flags: 16, bytes: 18 } as const;
/** C: client flags (32). */
export const CLIENT_FLAGS = { flags: 0, bytes: 4 } as const;
/** C: IHAVEOPT (64), option (32), data length (32), then data. */
export const OPTION = { magic: 0, option: 8, length: 12, bytes: 16 } as const;
/** S: reply magic (64), option (32), reply type (32), data length (32), then data. */
export const OPTION_REPLY = { magic: 0, option: 8, type: 12, length: 16, bytes: 20 } as const;
/** S: export size (64), transmission flags (16), then 124 zeroes unless NO_ZEROES. */
export const EXPORT_NAME_REPLY = { size: 0, flags: 8, bytes: 10 } as const;
/** NBD_REP_INFO data for NBD_INFO_EXPORT: type (16), size (64), transmission flags (16). */
export const INFO_EXPORT = { type: 0, size: 2, flags: 10, bytes: 12 } as const;
/** NBD_REP_INFO data for NBD_INFO_BLOCK_SIZE: type (16), minimum, preferred, maximum (32 each). */
export const INFO_BLOCK_SIZE = { type: 0, min: 2, preferred: 6, max: 10, bytes: 14 } as const;
/** C: magic (32), command flags (16), type (16), handle (64), offset (64), length (32). */
export const REQUEST = {
  magic: 0,
  flags: 4,
  type: 6,
  handle: 8,
  offset: 16,
  length: 24,
  bytes: 28,
} as const;
/** S: magic (32), error (32), handle (64), then the data of a successful READ. */
export const SIMPLE_REPLY = { magic: 0, error: 4, handle: 8, bytes: 16 } as const;

assert(GREETING.flags + 2 === GREETING.bytes, "greeting layout");
assert(CLIENT_FLAGS.flags + 4 === CLIENT_FLAGS.bytes, "client flags layout");
assert(OPTION.length + 4 === OPTION.bytes, "option header layout");
assert(OPTION_REPLY.length + 4 === OPTION_REPLY.bytes, "option reply header layout");
assert(EXPORT_NAME_REPLY.flags + 2 === EXPORT_NAME_REPLY.bytes, "export name reply layout");
assert(INFO_EXPORT.flags + 2 === INFO_EXPORT.bytes, "NBD_INFO_EXPORT layout");
assert(INFO_BLOCK_SIZE.max + 4 === INFO_BLOCK_SIZE.bytes, "NBD_INFO_BLOCK_SIZE layout");
assert(REQUEST.length + 4 === REQUEST.bytes, "request layout");
assert(SIMPLE_REPLY.handle + 8 === SIMPLE_REPLY.bytes, "simple reply layout");

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Decoded<T> => ({ ok: true, value });
const fail = <T>(reason: string): Decoded<T> => ({ ok: false, reason });
const hex = (value: number | bigint): string => "0x" + value.toString(16);

function short<T>(what: string, buffer: Buffer, bytes: number): Decoded<T> | null {
  return buffer.length < bytes
    ? fail(`${what} truncated: ${buffer.length} of ${bytes} bytes`)
    : null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A protocol string: at most 4096 bytes of UTF-8 with no NUL (proto.md §Conventions). */
function decodeString(what: string, bytes: Buffer): Decoded<string> {
  if (bytes.length > NBD_STRING_BYTES_MAX) {
    return fail(`${what} is ${bytes.length} bytes, more than ${NBD_STRING_BYTES_MAX}`);
  }
  if (bytes.includes(0)) return fail(`${what} contains a NUL byte`);
  try {
    return ok(utf8.decode(bytes));
  } catch {
    return fail(`${what} is not valid UTF-8`);
  }
}

function u64(value: number | bigint, what: string): bigint {
  const big = BigInt(value);
  assert(big >= 0n && big < 2n ** 64n, `${what} ${value} fits in 64 bits`);
  return big;
}

function assertUint(value: number, bits: 16 | 32, what: string): void {
  assert(Number.isInteger(value) && value >= 0 && value < 2 ** bits, `${what} fits ${bits} bits`);
}

// ---------------------------------------------------------------- handshake

export function encodeGreeting(handshakeFlags: number): Buffer {
  assertUint(handshakeFlags, 16, "handshake flags");
  const buffer = Buffer.alloc(GREETING.bytes);
  buffer.writeBigUInt64BE(NBD_MAGIC, GREETING.magic);
  buffer.writeBigUInt64BE(NBD_IHAVEOPT, GREETING.ihaveopt);
  buffer.writeUInt16BE(handshakeFlags, GREETING.flags);
  return buffer;
}

export function decodeGreeting(buffer: Buffer): Decoded<{ handshakeFlags: number }> {
  const truncated = short<{ handshakeFlags: number }>("greeting", buffer, GREETING.bytes);
  if (truncated) return truncated;
  if (buffer.readBigUInt64BE(GREETING.magic) !== NBD_MAGIC) return fail("greeting: bad NBDMAGIC");
  if (buffer.readBigUInt64BE(GREETING.ihaveopt) !== NBD_IHAVEOPT) {
    return fail("greeting: not newstyle (no IHAVEOPT)");
  }
  return ok({ handshakeFlags: buffer.readUInt16BE(GREETING.flags) });
}

export function encodeClientFlags(clientFlags: number): Buffer {
  assertUint(clientFlags, 32, "client flags");
  const buffer = Buffer.alloc(CLIENT_FLAGS.bytes);
  buffer.writeUInt32BE(clientFlags, CLIENT_FLAGS.flags);
  return buffer;
}

export interface ClientFlags {
  fixedNewstyle: boolean;
  noZeroes: boolean;
}

/** proto.md §Client flags: an unknown flag, or one the server did not offer, ends the session. */
export function decodeClientFlags(buffer: Buffer, handshakeFlags: number): Decoded<ClientFlags> {
  const truncated = short<ClientFlags>("client flags", buffer, CLIENT_FLAGS.bytes);
  if (truncated) return truncated;
  const flags = buffer.readUInt32BE(CLIENT_FLAGS.flags);
  let allowed = NBD_FLAG_C_FIXED_NEWSTYLE;
  if (handshakeFlags & NBD_FLAG_NO_ZEROES) allowed |= NBD_FLAG_C_NO_ZEROES;
  if ((flags & ~allowed) >>> 0 !== 0) {
    return fail(`client flags ${hex(flags)} set bits outside ${hex(allowed)}`);
  }
  return ok({
    fixedNewstyle: (flags & NBD_FLAG_C_FIXED_NEWSTYLE) !== 0,
    noZeroes: (flags & NBD_FLAG_C_NO_ZEROES) !== 0,
  });
}

// ---------------------------------------------------------------- options

export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  assertUint(option, 32, "option");
  const header = Buffer.alloc(OPTION.bytes);
  header.writeBigUInt64BE(NBD_IHAVEOPT, OPTION.magic);
  header.writeUInt32BE(option, OPTION.option);
  header.writeUInt32BE(data.length, OPTION.length);
  return Buffer.concat([header, data]);
}

export interface OptionHeader {
  option: number;
  dataBytes: number;
}

/** Validates the magic and bounds the data length before anything is allocated for it. */
export function decodeOptionHeader(
  buffer: Buffer,
  dataBytesMax: number = NBD_OPTION_DATA_BYTES_MAX,
): Decoded<OptionHeader> {
  const truncated = short<OptionHeader>("option header", buffer, OPTION.bytes);
  if (truncated) return truncated;
  const magic = buffer.readBigUInt64BE(OPTION.magic);
  if (magic !== NBD_IHAVEOPT) return fail(`option header: bad magic ${hex(magic)}`);
  const option = buffer.readUInt32BE(OPTION.option);
  const dataBytes = buffer.readUInt32BE(OPTION.length);
  if (dataBytes > dataBytesMax) {
    return fail(`option ${option}: ${dataBytes} data bytes, more than ${dataBytesMax}`);
  }
  return ok({ option, dataBytes });
}

/** NBD_OPT_EXPORT_NAME data: the whole payload is the name. */
export function decodeExportName(data: Buffer): Decoded<string> {
  return decodeString("export name", data);
}

export interface InfoRequest {
  name: string;
  infoTypes: number[];
}

/** NBD_OPT_INFO / NBD_OPT_GO data: name length (32), name, request count (16), types (16 each). */
export function encodeInfoRequest(request: InfoRequest): Buffer {
  const name = Buffer.from(request.name, "utf8");
  assert(name.length <= NBD_STRING_BYTES_MAX, "export name length");
  const buffer = Buffer.alloc(4 + name.length + 2 + 2 * request.infoTypes.length);
  buffer.writeUInt32BE(name.length, 0);
  name.copy(buffer, 4);
  buffer.writeUInt16BE(request.infoTypes.length, 4 + name.length);
  request.infoTypes.forEach((type, i) => buffer.writeUInt16BE(type, 4 + name.length + 2 + 2 * i));
  return buffer;
}

export function decodeInfoRequest(data: Buffer): Decoded<InfoRequest> {
  if (data.length < 4 + 2) return fail(`info request truncated: ${data.length} bytes`);
  const nameBytes = data.readUInt32BE(0);
  if (nameBytes > data.length - 4 - 2) {
    return fail(`info request: name length ${nameBytes} exceeds the ${data.length}-byte option`);
  }
  const name = decodeString("export name", data.subarray(4, 4 + nameBytes));
  if (!name.ok) return name;
  const count = data.readUInt16BE(4 + nameBytes);
  const expected = 4 + nameBytes + 2 + 2 * count;
  if (data.length !== expected) {
    return fail(`info request: ${count} info types need ${expected} bytes, got ${data.length}`);
  }
  const infoTypes: number[] = [];
  for (let i = 0; i < count; i++) infoTypes.push(data.readUInt16BE(4 + nameBytes + 2 + 2 * i));
  return ok({ name: name.value, infoTypes });
}

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

// ---------------------------------------------------------------- transmission

export interface NbdRequest {
  flags: number;
  type: number;
  /** Opaque to the server, echoed in the reply ("cookie" in newer versions of the spec). */
  handle: bigint;
  /** Unsigned 64 bits: may exceed Number.MAX_SAFE_INTEGER until checked against the export. */
  offset: bigint;
  length: number;
}

export function encodeRequest(request: NbdRequest): Buffer {
  assertUint(request.flags, 16, "command flags");
  assertUint(request.type, 16, "command type");
  assertUint(request.length, 32, "request length");
  const buffer = Buffer.alloc(REQUEST.bytes);
  buffer.writeUInt32BE(NBD_REQUEST_MAGIC, REQUEST.magic);
  buffer.writeUInt16BE(request.flags, REQUEST.flags);
  buffer.writeUInt16BE(request.type, REQUEST.type);
  buffer.writeBigUInt64BE(u64(request.handle, "handle"), REQUEST.handle);
  buffer.writeBigUInt64BE(u64(request.offset, "offset"), REQUEST.offset);
  buffer.writeUInt32BE(request.length, REQUEST.length);
  return buffer;
}

/** Only the magic is checked here; `checkRequest` judges the fields against the export. */
export function decodeRequest(buffer: Buffer): Decoded<NbdRequest> {
  const truncated = short<NbdRequest>("request", buffer, REQUEST.bytes);
  if (truncated) return truncated;
  const magic = buffer.readUInt32BE(REQUEST.magic);
  if (magic !== NBD_REQUEST_MAGIC) return fail(`request: bad magic ${hex(magic)}`);
  return ok({
    flags: buffer.readUInt16BE(REQUEST.flags),
    type: buffer.readUInt16BE(REQUEST.type),
    handle: buffer.readBigUInt64BE(REQUEST.handle),
    offset: buffer.readBigUInt64BE(REQUEST.offset),
    length: buffer.readUInt32BE(REQUEST.length),
  });
}

export interface ExportLimits {
  sizeBytes: number;
  readOnly: boolean;
  /** Largest READ or WRITE length served; larger WRITEs end the session. */
  payloadBytesMax: number;
  /** Advertised minimum block size: offsets and lengths must be multiples of it. */
  blockBytesMin: number;
}

/**
 * What to do with a well-framed request:
 * - `execute`: run it (offset and length now safe as numbers);
 * - `error`: reply with this NBD error, after consuming `payloadBytes` of WRITE data;
 * - `close`: a hard disconnect (a WRITE payload too large to consume, per proto.md §Block size
 *   constraints: "MAY instead initiate a hard disconnect if a large length could be deemed as a
 *   denial of service attack").
 */
export type RequestVerdict = AnswerableVerdict | { kind: "close"; reason: string };
export type AnswerableVerdict =
  | { kind: "execute"; offsetBytes: number; lengthBytes: number; payloadBytes: number }
  | { kind: "error"; error: number; reason: string; payloadBytes: number };

/** Command flags valid per command; FUA is valid on all once SEND_FUA is set (§Command flags). */
function allowedFlags(type: number): number {
  return type === NBD_CMD_WRITE_ZEROES ? NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE : NBD_CMD_FLAG_FUA;
}

export function checkRequest(request: NbdRequest, limits: ExportLimits): RequestVerdict {
  const { type, length, offset } = request;
  // §Request types: DISC has no reply, so even a malformed one just ends the session cleanly.
  if (type === NBD_CMD_DISC)
    return { kind: "execute", offsetBytes: 0, lengthBytes: 0, payloadBytes: 0 };
  const isWrite = type === NBD_CMD_WRITE;
  const payloadBytes = isWrite ? length : 0;
  if (isWrite && length > limits.payloadBytesMax) {
    return { kind: "close", reason: `write of ${length} bytes exceeds ${limits.payloadBytesMax}` };
  }
  const error = (code: number, reason: string): RequestVerdict => ({
    kind: "error",
    error: code,
    reason,
    payloadBytes,
  });
  const known = [
    NBD_CMD_READ,
    NBD_CMD_WRITE,
    NBD_CMD_DISC,
    NBD_CMD_FLUSH,
    NBD_CMD_WRITE_ZEROES,
  ] as number[];
  // §Error values: EINVAL for an unknown command (TRIM, CACHE, BLOCK_STATUS are not offered).
  if (!known.includes(type)) return error(NBD_EINVAL, `unsupported command ${type}`);
  if ((request.flags & ~allowedFlags(type)) !== 0) {
    return error(NBD_EINVAL, `command flags ${hex(request.flags)} not valid for command ${type}`);
  }
  if (type === NBD_CMD_FLUSH) {
    // §Request types: offset and length are reserved and MUST be zero.
    if (offset !== 0n || length !== 0) return error(NBD_EINVAL, "nonzero offset/length");
    return { kind: "execute", offsetBytes: 0, lengthBytes: 0, payloadBytes };
  }
  if (type === NBD_CMD_READ && length > limits.payloadBytesMax) {
    return error(NBD_EINVAL, `read of ${length} bytes exceeds ${limits.payloadBytesMax}`);
  }
  const min = BigInt(limits.blockBytesMin);
  if (offset % min !== 0n || BigInt(length) % min !== 0n) {
    // §Block size constraints: the server SHOULD report EINVAL for unaligned requests.
    return error(NBD_EINVAL, `${length} bytes at ${offset} not aligned to ${min}`);
  }
  const writes = type !== NBD_CMD_READ;
  // §Error values: EPERM for a write on a read-only export, ENOSPC for a write past the end.
  if (writes && limits.readOnly) return error(NBD_EPERM, "export is read-only");
  if (offset + BigInt(length) > BigInt(limits.sizeBytes)) {
    return error(
      writes ? NBD_ENOSPC : NBD_EINVAL,
      `${length} bytes at ${offset} is beyond the export size ${limits.sizeBytes}`,
    );
  }
  return { kind: "execute", offsetBytes: Number(offset), lengthBytes: length, payloadBytes };
}

export function encodeSimpleReply(handle: bigint, error: number): Buffer {
  assertUint(error, 32, "error");
  const buffer = Buffer.alloc(SIMPLE_REPLY.bytes);
  buffer.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, SIMPLE_REPLY.magic);
  buffer.writeUInt32BE(error, SIMPLE_REPLY.error);
  buffer.writeBigUInt64BE(u64(handle, "handle"), SIMPLE_REPLY.handle);
  return buffer;
}

export function decodeSimpleReply(buffer: Buffer): Decoded<{ error: number; handle: bigint }> {
  const truncated = short<{ error: number; handle: bigint }>(
    "simple reply",
    buffer,
    SIMPLE_REPLY.bytes,
  );
  if (truncated) return truncated;
  const magic = buffer.readUInt32BE(SIMPLE_REPLY.magic);
  if (magic !== NBD_SIMPLE_REPLY_MAGIC) return fail(`simple reply: bad magic ${hex(magic)}`);
  return ok({
    error: buffer.readUInt32BE(SIMPLE_REPLY.error),
    handle: buffer.readBigUInt64BE(SIMPLE_REPLY.handle),
  });
}
