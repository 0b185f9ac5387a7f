/**
 * What one NBD server serves, as every connection sees it: the options, validated against their
 * bounds, turned into the export's transmission flags, block sizes and limits, plus the counters
 * the server's stats report.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { createLogger, type Logger } from "../../foundation/log.js";
import type { BlockDevice } from "../block-device.js";
import * as nbd from "./protocol.js";
import { nbdServerLimits } from "./server-limits.js";

export interface NbdServerOptions {
  device: BlockDevice;
  socketPath: string;
  /** The export's name; the default export "" is accepted as well. Default "". */
  exportName?: string;
  log?: Logger;
  /** Requests executing at once on one connection before its socket is paused. Default 64. */
  requestsInFlightMax?: number;
  /**
   * Minimum block size advertised and enforced (offsets and lengths must be multiples): a power
   * of two up to 64 KiB. Default 1; use 512 for devices that cannot do sub-sector I/O.
   */
  blockBytesMin?: number;
}

export interface NbdServerStats {
  connectionsOpen: number;
  connectionsTotal: number;
  /** Transmission-phase requests received (NBD_CMD_DISC included). */
  requests: number;
  bytesRead: number;
  bytesWritten: number;
  /** Requests answered with an NBD error (invalid, out of range, or failed on the device). */
  errorReplies: number;
  /** Connections dropped because the client broke the protocol. */
  protocolErrors: number;
  requestsInFlight: number;
}

export interface ServerContext {
  device: BlockDevice;
  exportName: string;
  transmissionFlags: number;
  blockSizes: nbd.BlockSizes;
  exportLimits: nbd.ExportLimits;
  requestsInFlightMax: number;
  log: Logger;
  counters: Omit<NbdServerStats, "connectionsOpen" | "requestsInFlight">;
}

/** Validates the options (throwing INVALID_ARGUMENT naming the key) and derives the context. */
export function createServerContext(options: NbdServerOptions): ServerContext {
  const { device } = options;
  const exportName = options.exportName ?? "";
  const requestsInFlightMax =
    options.requestsInFlightMax ?? nbdServerLimits.requestsInFlightMaxDefault;
  const blockBytesMin = options.blockBytesMin ?? 1;
  validateOptions(options, exportName, requestsInFlightMax, blockBytesMin);
  const log = options.log ?? createLogger("block:nbd");

  let transmissionFlags = nbd.NBD_FLAG_HAS_FLAGS | nbd.NBD_FLAG_SEND_FLUSH | nbd.NBD_FLAG_SEND_FUA;
  transmissionFlags |= device.readOnly ? nbd.NBD_FLAG_READ_ONLY : nbd.NBD_FLAG_SEND_WRITE_ZEROES;
  return {
    device,
    exportName,
    transmissionFlags,
    blockSizes: {
      minBytes: blockBytesMin,
      preferredBytes: Math.max(4096, blockBytesMin),
      maxBytes: nbd.NBD_PAYLOAD_BYTES_MAX,
    },
    exportLimits: {
      sizeBytes: device.sizeBytes,
      readOnly: device.readOnly,
      payloadBytesMax: nbd.NBD_PAYLOAD_BYTES_MAX,
      blockBytesMin,
    },
    requestsInFlightMax,
    log,
    counters: {
      connectionsTotal: 0,
      requests: 0,
      bytesRead: 0,
      bytesWritten: 0,
      errorReplies: 0,
      protocolErrors: 0,
    },
  };
}

function validateOptions(
  options: NbdServerOptions,
  exportName: string,
  requestsInFlightMax: number,
  blockBytesMin: number,
): void {
  const invalid = (key: string, message: string) =>
    new EtherplaneError("INVALID_ARGUMENT", `nbd server ${key}: ${message}`, { params: { key } });
  const pathBytes = Buffer.byteLength(options.socketPath);
  if (pathBytes === 0 || pathBytes > nbdServerLimits.socketPathBytesMax) {
    throw invalid("socketPath", `must be 1 to ${nbdServerLimits.socketPathBytesMax} bytes long`);
  }
  if (Buffer.byteLength(exportName) > nbd.NBD_STRING_BYTES_MAX || exportName.includes("\0")) {
    throw invalid("exportName", `must be at most ${nbd.NBD_STRING_BYTES_MAX} bytes, without NUL`);
  }
  const { requestsInFlightMaxMax } = nbdServerLimits;
  if (!Number.isInteger(requestsInFlightMax) || requestsInFlightMax < 1) {
    throw invalid("requestsInFlightMax", `must be an integer from 1 to ${requestsInFlightMaxMax}`);
  }
  if (requestsInFlightMax > requestsInFlightMaxMax) {
    throw invalid("requestsInFlightMax", `must be an integer from 1 to ${requestsInFlightMaxMax}`);
  }
  const isPow2 = Number.isInteger(blockBytesMin) && (blockBytesMin & (blockBytesMin - 1)) === 0;
  if (!isPow2 || blockBytesMin < 1 || blockBytesMin > 65536) {
    throw invalid("blockBytesMin", "must be a power of two from 1 to 65536");
  }
  const size = options.device.sizeBytes;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw invalid("device", `size ${size} is not a byte count`);
  }
  if (size % blockBytesMin !== 0) {
    // proto.md §Block size constraints: otherwise the last bytes could not be addressed.
    throw invalid("blockBytesMin", `device size ${size} is not a multiple of ${blockBytesMin}`);
  }
}
