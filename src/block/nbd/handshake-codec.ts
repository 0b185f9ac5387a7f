/**
 * The client's side of the fixed newstyle handshake (option haggling): the server's greeting,
 * the client flags, and the options the client sends with their data. Pure, over Buffer.
 *
 * Source: proto.md §Fixed newstyle negotiation, §Client flags, §Option types.
 */
import { assert } from "../../foundation/assert.js";
import {
  assertUint,
  decodeString,
  fail,
  hex,
  ok,
  short,
  type Decoded,
} from "./codec-primitives.js";
import {
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_NO_ZEROES,
  NBD_IHAVEOPT,
  NBD_MAGIC,
  NBD_OPTION_DATA_BYTES_MAX,
  NBD_STRING_BYTES_MAX,
} from "./protocol-constants.js";

// --- Layouts: byte offset of each field, and the total size (asserted below) ---
/** S: NBDMAGIC (64), IHAVEOPT (64), handshake flags (16). */
export const GREETING = { magic: 0, ihaveopt: 8, flags: 16, bytes: 18 } as const;
/** C: client flags (32). */
export const CLIENT_FLAGS = { flags: 0, bytes: 4 } as const;
/** C: IHAVEOPT (64), option (32), data length (32), then data. */
export const OPTION = { magic: 0, option: 8, length: 12, bytes: 16 } as const;

assert(GREETING.flags + 2 === GREETING.bytes, "greeting layout");
assert(CLIENT_FLAGS.flags + 4 === CLIENT_FLAGS.bytes, "client flags layout");
assert(OPTION.length + 4 === OPTION.bytes, "option header layout");

// ---------------------------------------------------------------- greeting and client flags

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
