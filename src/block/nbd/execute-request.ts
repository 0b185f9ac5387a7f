/**
 * Running an admitted NBD request on the BlockDevice, and mapping the device's errors to the NBD
 * error the client sees. The connection decides what runs; this file only does the device I/O.
 */
import { assert } from "../../foundation/assert.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import * as nbd from "./protocol.js";
import type { ServerContext } from "./server-context.js";
import { nbdServerLimits } from "./server-limits.js";

let zeroChunk: Buffer | undefined;

/** Runs one request checked by `checkRequest`; resolves to the READ data, if any. */
export async function executeRequest(
  ctx: Pick<ServerContext, "device" | "counters">,
  request: nbd.NbdRequest,
  offsetBytes: number,
  lengthBytes: number,
  payload: Buffer,
): Promise<Buffer | undefined> {
  const { device, counters } = ctx;
  const fua = (request.flags & nbd.NBD_CMD_FLAG_FUA) !== 0;
  switch (request.type) {
    case nbd.NBD_CMD_READ: {
      // Zeroed, not allocUnsafe: a device that fails to fill it must not leak memory.
      const data = Buffer.alloc(lengthBytes);
      if (lengthBytes > 0) await device.read(data, offsetBytes);
      counters.bytesRead += lengthBytes;
      return data;
    }
    case nbd.NBD_CMD_WRITE:
      if (payload.length > 0) await device.write(payload, offsetBytes);
      counters.bytesWritten += payload.length;
      break;
    case nbd.NBD_CMD_WRITE_ZEROES: {
      zeroChunk ??= Buffer.alloc(nbdServerLimits.zeroChunkBytes);
      for (let done = 0; done < lengthBytes; done += zeroChunk.length) {
        const count = Math.min(zeroChunk.length, lengthBytes - done);
        await device.write(zeroChunk.subarray(0, count), offsetBytes + done);
      }
      counters.bytesWritten += lengthBytes;
      break;
    }
    case nbd.NBD_CMD_FLUSH:
      await device.flush();
      return undefined;
    default:
      assert(false, `checkRequest admitted command ${request.type}`);
  }
  // §Command flags: with FUA, no reply until the written data is on stable storage.
  if (fua) await device.flush();
  return undefined;
}

/** An error from the BlockDevice, as the NBD error the client sees (proto.md §Error values). */
export function nbdErrorOf(error: unknown): number {
  if (isEtherplaneError(error, "OUT_OF_RANGE")) return nbd.NBD_EINVAL;
  if (isEtherplaneError(error, "REFUSED")) return nbd.NBD_EPERM;
  if (isEtherplaneError(error, "CLOSED")) return nbd.NBD_ESHUTDOWN;
  return nbd.NBD_EIO;
}
