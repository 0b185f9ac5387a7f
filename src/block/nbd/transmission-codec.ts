/**
 * The transmission phase on the wire: requests (header, then a WRITE's data) and simple replies
 * (header, then a successful READ's data). Pure, over Buffer; structured replies are not used.
 *
 * Source: proto.md §Request message, §Simple reply message.
 */
import { assert } from "../../foundation/assert.js";
import { assertUint, fail, hex, ok, short, u64, type Decoded } from "./codec-primitives.js";
import { NBD_REQUEST_MAGIC, NBD_SIMPLE_REPLY_MAGIC } from "./protocol-constants.js";

// --- Layouts: byte offset of each field, and the total size (asserted below) ---
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

assert(REQUEST.length + 4 === REQUEST.bytes, "request layout");
assert(SIMPLE_REPLY.handle + 8 === SIMPLE_REPLY.bytes, "simple reply layout");

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
