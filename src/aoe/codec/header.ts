/**
 * The AoE common header (AoEr11 section 2 "AoE Header Format"; tcpdump print-aoe.c).
 * All multi-byte fields are big-endian. Offsets are from the start of the Ethernet frame.
 *
 *   0  dst MAC (6)         6  src MAC (6)        12 ethertype 0x88A2 (2)
 *   14 ver<<4 | flags (1)  15 error (1)          16 major/shelf (2)
 *   18 minor/slot (1)      19 command (1)        20 tag (4)       24 command arguments
 */
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
export const ETH_HEADER_BYTES = 14;
export const ETH_MAC_BYTES = 6;
/** Minimum Ethernet frame without FCS: replies are padded to it. */
export const ETH_FRAME_MIN_BYTES = 60;

export const AOE_VER_FLAGS = 14;
export const AOE_ERROR = 15;
export const AOE_MAJOR = 16;
export const AOE_MINOR = 18;
export const AOE_COMMAND = 19;
export const AOE_TAG = 20;
export const AOE_HEADER_BYTES = 24;

export const AOE_ETHERTYPE = 0x88a2;
export const AOE_VERSION = 1;

/** Flags in the low nibble of byte 14 (AoEr11 2.1: R, E, then two reserved bits that are 0). */
export const AOE_FLAG_RESPONSE = 0x08;
export const AOE_FLAG_ERROR = 0x04;
export const AOE_FLAGS_RESERVED = 0x03;

/** Broadcast addresses: shelf 0xFFFF, slot 0xFF (AoEr11 2.3, 2.4). */
export const AOE_SHELF_BROADCAST = 0xffff;
export const AOE_SLOT_BROADCAST = 0xff;
/** Largest shelf an export may use (0xFFFF is broadcast). */
export const AOE_SHELF_MAX = 0xfffe;
/** Largest slot an export may use (0xFF is broadcast). */
export const AOE_SLOT_MAX = 0xfe;

export const AoeCommand = {
  ata: 0,
  queryConfig: 1,
  macMask: 2,
  reserve: 3,
} as const;
export type AoeCommandValue = (typeof AoeCommand)[keyof typeof AoeCommand];

/** AoE error codes (AoEr11 2.2). */
export const AoeError = {
  unrecognizedCommand: 1,
  badArgument: 2,
  deviceUnavailable: 3,
  configStringPresent: 4,
  unsupportedVersion: 5,
  targetReserved: 6,
} as const;

/**
 * A view of a frame's common header: fields are read from the frame when asked for, so the hot
 * path pays for the ones it uses (and never for the MAC subarrays unless it needs them).
 */
export class AoeHeader {
  /** Use `decodeHeader`, which checks the length and ethertype first. */
  constructor(readonly frame: Buffer) {}
  get dst(): Buffer {
    return this.frame.subarray(ETH_DST, ETH_DST + ETH_MAC_BYTES);
  }
  get src(): Buffer {
    return this.frame.subarray(ETH_SRC, ETH_SRC + ETH_MAC_BYTES);
  }
  get version(): number {
    return (this.frame[AOE_VER_FLAGS] as number) >> 4;
  }
  /** Low nibble of byte 14: AOE_FLAG_RESPONSE | AOE_FLAG_ERROR. */
  get flags(): number {
    return (this.frame[AOE_VER_FLAGS] as number) & 0x0f;
  }
  get error(): number {
    return this.frame[AOE_ERROR] as number;
  }
  get shelf(): number {
    return this.frame.readUInt16BE(AOE_MAJOR);
  }
  get slot(): number {
    return this.frame[AOE_MINOR] as number;
  }
  get command(): number {
    return this.frame[AOE_COMMAND] as number;
  }
  get tag(): number {
    return this.frame.readUInt32BE(AOE_TAG);
  }
  /** Whether the frame came from `mac` (no allocation). */
  isFrom(mac: Buffer): boolean {
    return this.frame.compare(mac, 0, ETH_MAC_BYTES, ETH_SRC, ETH_SRC + ETH_MAC_BYTES) === 0;
  }
}

/** A frame that fails validation: the reason names a drop counter. */
export interface Invalid {
  ok: false;
  reason: DropReason;
}

export type DropReason =
  | "truncated" // shorter than the header or its own length fields
  | "not-aoe" // wrong ethertype
  | "bad-version" // version nibble is not 1
  | "response" // a response arrived where requests are expected (or the reverse)
  | "bad-source" // multicast or zero source MAC
  | "unknown-command" // AoE command outside 0..3 (and not vendor-specific)
  | "bad-argument" // a field value the protocol does not allow
  | "not-addressed" // to another shelf.slot, or a broadcast where one is not allowed
  | "masked" // source MAC not in the export's MAC mask list
  | "overloaded" // the request queue is full
  | "bad-flags" // a request with the E flag, a reserved flag bit or a non-zero error byte
  | "other-host" // sent to another station's MAC (a flooding switch, promiscuous mode)
  | "vlan-tagged" // carried an 802.1Q tag: it belongs to a VLAN this target does not serve
  | "duplicate" // a copy of a write still in flight (same source, tag, sectors): its reply answers
  | "stopping"; // the target is draining before it exits

export function invalid(reason: DropReason): Invalid {
  return { ok: false, reason };
}

/** Decodes the common header; the frame must hold at least AOE_HEADER_BYTES. */
export function decodeHeader(frame: Buffer): AoeHeader | Invalid {
  if (frame.length < AOE_HEADER_BYTES) return invalid("truncated");
  if (frame.readUInt16BE(ETH_TYPE) !== AOE_ETHERTYPE) return invalid("not-aoe");
  return new AoeHeader(frame);
}

export function isInvalid(value: object): value is Invalid {
  return (value as Partial<Invalid>).ok === false;
}

/** A unicast MAC at `offset`: the group bit (bit 0 of the first byte) clear, and not all zeros. */
export function isUnicastMac(mac: Buffer, offset = 0): boolean {
  if (((mac[offset] as number) & 0x01) !== 0) return false;
  for (let i = offset; i < offset + ETH_MAC_BYTES; i++) if (mac[i] !== 0) return true;
  return false;
}

export interface HeaderFields {
  dst: Buffer;
  src: Buffer;
  flags: number;
  error: number;
  shelf: number;
  slot: number;
  command: number;
  tag: number;
}

/** Writes the Ethernet and AoE headers (version 1) into the first 24 bytes of `frame`. */
export function writeHeader(frame: Buffer, fields: HeaderFields): void {
  fields.dst.copy(frame, ETH_DST, 0, ETH_MAC_BYTES);
  fields.src.copy(frame, ETH_SRC, 0, ETH_MAC_BYTES);
  frame.writeUInt16BE(AOE_ETHERTYPE, ETH_TYPE);
  frame[AOE_VER_FLAGS] = (AOE_VERSION << 4) | (fields.flags & 0x0f);
  frame[AOE_ERROR] = fields.error;
  frame.writeUInt16BE(fields.shelf, AOE_MAJOR);
  frame[AOE_MINOR] = fields.slot;
  frame[AOE_COMMAND] = fields.command;
  frame.writeUInt32BE(fields.tag >>> 0, AOE_TAG);
}

/** A zero-filled frame of `bytes`, at least the Ethernet minimum (replies never carry stale bytes). */
export function allocFrame(bytes: number): Buffer {
  return Buffer.alloc(Math.max(bytes, ETH_FRAME_MIN_BYTES));
}

/**
 * Writes the reply header for a request addressed to this export's own shelf.slot: a copy of the
 * request's bytes 12-24 (ethertype, shelf, slot, command, tag), addresses swapped, version 1 and
 * the response flag. The fast path for ATA replies; `replyHeader` builds the general case.
 */
export function writeReplyHeader(reply: Buffer, request: Buffer, ownMac: Buffer, error = 0): void {
  request.copy(reply, ETH_DST, ETH_SRC, ETH_SRC + ETH_MAC_BYTES);
  ownMac.copy(reply, ETH_SRC, 0, ETH_MAC_BYTES);
  request.copy(reply, ETH_TYPE, ETH_TYPE, AOE_HEADER_BYTES);
  reply[AOE_VER_FLAGS] = (AOE_VERSION << 4) | AOE_FLAG_RESPONSE | (error ? AOE_FLAG_ERROR : 0);
  reply[AOE_ERROR] = error;
}

/** The header of the reply to `request`: addresses swapped, response flag set. */
export function replyHeader(
  request: AoeHeader,
  ownMac: Buffer,
  shelf: number,
  slot: number,
  error = 0,
): HeaderFields {
  return {
    dst: request.src,
    src: ownMac,
    flags: AOE_FLAG_RESPONSE | (error ? AOE_FLAG_ERROR : 0),
    error,
    shelf,
    slot,
    command: request.command,
    tag: request.tag,
  };
}

export function macToString(mac: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < ETH_MAC_BYTES; i++)
    parts.push((mac[i] as number).toString(16).padStart(2, "0"));
  return parts.join(":");
}

const macPattern =
  /^([0-9a-f]{2})([:-]?)([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;

/** Parses `00:16:3e:00:00:13` (or with `-`, or bare hex); undefined when malformed. */
export function parseMac(text: string): Buffer | undefined {
  const match = macPattern.exec(text.trim());
  if (!match) return undefined;
  return Buffer.from([1, 3, 4, 5, 6, 7].map((i) => parseInt(match[i] as string, 16)));
}
