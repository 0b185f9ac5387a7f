/**
 * The AoE codec: pure decode / encode / validate over Buffers. `decodeFrame` turns any frame into
 * one typed message or a drop reason; it never throws on untrusted input.
 */
import { decodeAtaRequest, type AtaRequest } from "./ata.js";
import { decodeConfig, type ConfigMessage } from "./config.js";
import {
  AOE_FLAG_ERROR,
  AOE_FLAG_RESPONSE,
  AOE_FLAGS_RESERVED,
  AOE_VERSION,
  AoeCommand,
  ETH_SRC,
  decodeHeader,
  invalid,
  isInvalid,
  isUnicastMac,
  type AoeHeader,
  type Invalid,
} from "./header.js";
import { decodeMacMask, type MaskMessage } from "./mac-mask.js";
import { decodeReserve, type ReserveMessage } from "./reserve.js";

export * from "./address.js";
export * from "./ata.js";
export * from "./config.js";
export * from "./header.js";
export * from "./identify.js";
export * from "./mac-mask.js";
export * from "./reserve.js";

export type AoeMessage = AtaRequest | ConfigMessage | MaskMessage | ReserveMessage;

/** Decodes a frame's command arguments after its header was read. */
export function decodeBody(frame: Buffer, header: AoeHeader): AoeMessage | Invalid {
  switch (header.command) {
    case AoeCommand.ata:
      return decodeAtaRequest(frame, header);
    case AoeCommand.queryConfig:
      return decodeConfig(frame, header);
    case AoeCommand.macMask:
      return decodeMacMask(frame, header);
    case AoeCommand.reserve:
      return decodeReserve(frame, header);
    default:
      return invalid("unknown-command");
  }
}

/** Decodes any frame into a message; the header's flags tell requests from responses. */
export function decodeFrame(frame: Buffer): AoeMessage | Invalid {
  const header = decodeHeader(frame);
  if (isInvalid(header)) return header;
  return decodeBody(frame, header);
}

/**
 * Checks a request header before it is acted on (AoEr11 section 2, the header):
 * not a response, from a unicast source, version 1, no error flag, reserved flag bit or error
 * byte (AoEr11 2.1: an initiator sets none of them in a request). "bad-version" and "bad-flags"
 * are reported apart so that the target can answer error 5 (unsupported version) or error 2 (bad
 * argument) where a reply is due, instead of dropping.
 */
export function validateRequestHeader(header: AoeHeader): Invalid | undefined {
  if ((header.flags & AOE_FLAG_RESPONSE) !== 0) return invalid("response");
  if (!isUnicastMac(header.frame, ETH_SRC)) return invalid("bad-source");
  if (header.version !== AOE_VERSION) return invalid("bad-version");
  if ((header.flags & (AOE_FLAG_ERROR | AOE_FLAGS_RESERVED)) !== 0 || header.error !== 0)
    return invalid("bad-flags");
  return undefined;
}
