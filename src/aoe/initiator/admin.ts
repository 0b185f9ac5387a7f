/**
 * The target-management commands of AoE: config strings (query config sets and tests), MAC mask
 * lists and reservations, sent to one path of a device. Each resolves with the target's decoded
 * reply, or rejects with the AoE error it answered (e.g. 6, target reserved).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import {
  AoeCommand,
  decodeConfig,
  decodeMacMask,
  decodeReserve,
  encodeConfig,
  encodeMacMask,
  encodeReserve,
  isInvalid,
  type AoeHeader,
  type ConfigArgs,
  type MaskArgs,
  type MaskDirective,
  type ReserveArgs,
} from "../codec/index.js";
import type { InitiatorEngine, Path } from "./engine.js";
import { aoeErrorOf } from "./requests.js";

const ZERO_MAC = Buffer.alloc(6);
const TIMEOUT_MS = 3000;

function header(shelf: number, slot: number, command: number) {
  return { dst: ZERO_MAC, src: ZERO_MAC, flags: 0, error: 0, shelf, slot, command, tag: 0 };
}

function exchange<T>(
  engine: InitiatorEngine,
  path: Path,
  frame: Buffer,
  what: string,
  decode: (reply: Buffer, replyHeader: AoeHeader) => T | undefined,
): Promise<T> {
  return new Promise((resolve, reject) =>
    engine.submit({
      frame,
      paths: [path],
      deadlineMs: engine.clock.nowMs() + TIMEOUT_MS,
      onReply: (reply, replyHeader) => {
        const error = aoeErrorOf(replyHeader, what);
        if (error) return reject(error);
        const decoded = decode(reply, replyHeader);
        if (decoded === undefined)
          reject(new EtherplaneError("PROTOCOL", `malformed reply to ${what}`));
        else resolve(decoded);
      },
      onFail: reject,
    }),
  );
}

export interface DeviceAddress {
  shelf: number;
  slot: number;
}

/** Query config with any config command (tests that fail get no reply: this then times out). */
export function queryConfigCommand(
  engine: InitiatorEngine,
  path: Path,
  device: DeviceAddress,
  ccmd: number,
  configString = Buffer.alloc(0),
): Promise<ConfigArgs> {
  const frame = encodeConfig(header(device.shelf, device.slot, AoeCommand.queryConfig), {
    bufferCount: 0,
    firmware: 0,
    sectorCount: 0,
    aoeVersion: 1,
    ccmd,
    configString,
  });
  return exchange(engine, path, frame, "query config", (reply, h) => {
    const m = decodeConfig(reply, h);
    return isInvalid(m) ? undefined : m.config;
  });
}

export function macMaskCommand(
  engine: InitiatorEngine,
  path: Path,
  device: DeviceAddress,
  mcmd: number,
  directives: MaskDirective[] = [],
): Promise<MaskArgs> {
  const frame = encodeMacMask(header(device.shelf, device.slot, AoeCommand.macMask), {
    mcmd,
    merror: 0,
    directives,
  });
  return exchange(engine, path, frame, "MAC mask list", (reply, h) => {
    const m = decodeMacMask(reply, h);
    return isInvalid(m) ? undefined : m.mask;
  });
}

export function reserveCommand(
  engine: InitiatorEngine,
  path: Path,
  device: DeviceAddress,
  rcmd: number,
  macs: Buffer[] = [],
): Promise<ReserveArgs> {
  const frame = encodeReserve(header(device.shelf, device.slot, AoeCommand.reserve), {
    rcmd,
    macs,
  });
  return exchange(engine, path, frame, "reserve/release", (reply, h) => {
    const m = decodeReserve(reply, h);
    return isInvalid(m) ? undefined : m.reserve;
  });
}
