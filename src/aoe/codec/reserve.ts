/**
 * AoE command 3: reserve/release (AoEr11 section 3.4).
 *
 *   24 rcmd (1): 0 read, 1 set, 2 force set   25 MAC count (1)   26 MACs, 6 bytes each
 * A set from a MAC outside a non-empty reservation gets error 6 (target reserved); a force set
 * with no MACs releases the reservation.
 */
import {
  AoeCommand,
  ETH_MAC_BYTES,
  allocFrame,
  invalid,
  writeHeader,
  type AoeHeader,
  type HeaderFields,
  type Invalid,
} from "./header.js";

export const RES_RCMD = 24;
export const RES_MAC_COUNT = 25;
export const RES_MACS = 26;
export const RES_HEADER_BYTES = RES_MACS;
export const RES_MACS_MAX = 255;

export const ReserveCommand = { read: 0, set: 1, forceSet: 2 } as const;

export interface ReserveArgs {
  rcmd: number;
  macs: Buffer[];
}

export interface ReserveMessage {
  ok: true;
  command: typeof AoeCommand.reserve;
  header: AoeHeader;
  reserve: ReserveArgs;
}

export function decodeReserve(frame: Buffer, header: AoeHeader): ReserveMessage | Invalid {
  if (frame.length < RES_HEADER_BYTES) return invalid("truncated");
  const count = frame[RES_MAC_COUNT] as number;
  if (frame.length - RES_MACS < count * ETH_MAC_BYTES) return invalid("truncated");
  const rcmd = frame[RES_RCMD] as number;
  if (rcmd > ReserveCommand.forceSet) return invalid("bad-argument");
  const macs: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const at = RES_MACS + i * ETH_MAC_BYTES;
    macs.push(Buffer.from(frame.subarray(at, at + ETH_MAC_BYTES)));
  }
  return { ok: true, command: AoeCommand.reserve, header, reserve: { rcmd, macs } };
}

export function encodeReserve(fields: HeaderFields, reserve: ReserveArgs): Buffer {
  if (reserve.macs.length > RES_MACS_MAX) {
    throw new RangeError(`${reserve.macs.length} MACs exceed ${RES_MACS_MAX}`);
  }
  const frame = allocFrame(RES_MACS + reserve.macs.length * ETH_MAC_BYTES);
  writeHeader(frame, { ...fields, command: AoeCommand.reserve });
  frame[RES_RCMD] = reserve.rcmd;
  frame[RES_MAC_COUNT] = reserve.macs.length;
  reserve.macs.forEach((mac, i) => mac.copy(frame, RES_MACS + i * ETH_MAC_BYTES, 0, ETH_MAC_BYTES));
  return frame;
}
