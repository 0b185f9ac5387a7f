/**
 * Judges a well-framed request against the export it targets: execute it, answer it with an NBD
 * error, or hang up. Pure: no I/O, and never throws on what the client sent.
 *
 * Source: proto.md §Request types, §Command flags, §Block size constraints, §Error values.
 */
import { hex } from "./codec-primitives.js";
import {
  NBD_CMD_DISC,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_ENOSPC,
  NBD_EPERM,
} from "./protocol-constants.js";
import type { NbdRequest } from "./transmission-codec.js";

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
