/**
 * AoE command 1: query config information (AoEr11 section 3.2; aoe.h `struct aoe_cfghdr`).
 *
 *   24 buffer count (2)   26 firmware version (2)   28 sector count (1)
 *   29 AoE ver<<4 | ccmd (1)   30 config string length (2)   32 config string (≤ 1024)
 */
import {
  AoeCommand,
  allocFrame,
  invalid,
  writeHeader,
  type AoeHeader,
  type HeaderFields,
  type Invalid,
} from "./header.js";

export const CFG_BUFFER_COUNT = 24;
export const CFG_FIRMWARE = 26;
export const CFG_SECTOR_COUNT = 28;
export const CFG_VER_CCMD = 29;
export const CFG_STRING_LENGTH = 30;
export const CFG_STRING = 32;
export const CFG_HEADER_BYTES = CFG_STRING;
export const CFG_STRING_BYTES_MAX = 1024;

export const ConfigCommand = {
  read: 0,
  testExact: 1,
  testPrefix: 2,
  setIfEmpty: 3,
  forceSet: 4,
} as const;

export interface ConfigArgs {
  bufferCount: number;
  firmware: number;
  /** Maximum sectors per ATA command; 0 means 2 (AoEr11 3.2). */
  sectorCount: number;
  aoeVersion: number;
  ccmd: number;
  configString: Buffer;
}

export interface ConfigMessage {
  ok: true;
  command: typeof AoeCommand.queryConfig;
  header: AoeHeader;
  config: ConfigArgs;
}

/** Decodes a query config request or response, checking the string length against the frame. */
export function decodeConfig(frame: Buffer, header: AoeHeader): ConfigMessage | Invalid {
  if (frame.length < CFG_HEADER_BYTES) return invalid("truncated");
  const verCcmd = frame[CFG_VER_CCMD] as number;
  const length = frame.readUInt16BE(CFG_STRING_LENGTH);
  if (length > CFG_STRING_BYTES_MAX) return invalid("bad-argument");
  if (frame.length - CFG_STRING < length) return invalid("truncated");
  const ccmd = verCcmd & 0x0f;
  if (ccmd > ConfigCommand.forceSet) return invalid("bad-argument");
  return {
    ok: true,
    command: AoeCommand.queryConfig,
    header,
    config: {
      bufferCount: frame.readUInt16BE(CFG_BUFFER_COUNT),
      firmware: frame.readUInt16BE(CFG_FIRMWARE),
      sectorCount: frame[CFG_SECTOR_COUNT] as number,
      aoeVersion: verCcmd >> 4,
      ccmd,
      configString: frame.subarray(CFG_STRING, CFG_STRING + length),
    },
  };
}

export function encodeConfig(fields: HeaderFields, config: ConfigArgs): Buffer {
  if (config.configString.length > CFG_STRING_BYTES_MAX) {
    throw new RangeError(`config string of ${config.configString.length} bytes exceeds 1024`);
  }
  const frame = allocFrame(CFG_STRING + config.configString.length);
  writeHeader(frame, { ...fields, command: AoeCommand.queryConfig });
  frame.writeUInt16BE(config.bufferCount, CFG_BUFFER_COUNT);
  frame.writeUInt16BE(config.firmware, CFG_FIRMWARE);
  frame[CFG_SECTOR_COUNT] = config.sectorCount;
  frame[CFG_VER_CCMD] = ((config.aoeVersion & 0x0f) << 4) | (config.ccmd & 0x0f);
  frame.writeUInt16BE(config.configString.length, CFG_STRING_LENGTH);
  config.configString.copy(frame, CFG_STRING);
  return frame;
}

/** Whether a test config command matches the target's string (AoEr11 3.2). */
export function configTestMatches(ccmd: number, own: Buffer, given: Buffer): boolean {
  if (ccmd === ConfigCommand.testExact) return own.equals(given);
  if (ccmd === ConfigCommand.testPrefix) {
    return given.length <= own.length && own.subarray(0, given.length).equals(given);
  }
  return true;
}
