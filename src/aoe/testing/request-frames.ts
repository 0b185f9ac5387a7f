/**
 * Hand-made AoE requests for tests that talk to a target frame by frame (hostile input, strict
 * rules, the native fast path), on the simulator or over AF_PACKET: one builder, so that a write
 * or a read means the same frame in every such test, each with a tag of its own.
 */
import {
  AFLAG_LBA48,
  AFLAG_WRITE,
  AOE_TAG,
  AoeCommand,
  ATA_DATA,
  AtaCommand,
  encodeAtaFrame,
  SECTOR_BYTES,
  type AtaArgs,
  type HeaderFields,
} from "../codec/index.js";

/** Who a request goes to and comes from, and the first tag to hand out. */
export interface RequestAddressing {
  dst: Buffer;
  src: Buffer;
  shelf: number;
  slot?: number;
  firstTag: number;
}

export class RequestFrames {
  private nextTag: number;

  constructor(private readonly addressing: RequestAddressing) {
    this.nextTag = addressing.firstTag;
  }

  /** An ATA request header (override any field, e.g. `command` for a config query); a fresh tag. */
  header(overrides: Partial<HeaderFields> = {}): HeaderFields {
    const { dst, src, shelf, slot = 0 } = this.addressing;
    const tag = this.nextTag++;
    return {
      dst,
      src,
      flags: 0,
      error: 0,
      shelf,
      slot,
      command: AoeCommand.ata,
      tag,
      ...overrides,
    };
  }

  /**
   * A WRITE SECTORS EXT at `lba` of `data`, or of one sector filled with the byte `data`; `aflags`
   * replaces LBA48|W (a write without the W bit).
   */
  write(
    lba: number,
    data: Buffer | number,
    overrides: Partial<HeaderFields> = {},
    aflags = AFLAG_LBA48 | AFLAG_WRITE,
  ): Buffer {
    const bytes = typeof data === "number" ? SECTOR_BYTES : data.length;
    const frame = encodeAtaFrame(
      this.header(overrides),
      {
        aflags,
        errFeature: 0,
        sectorCount: bytes / SECTOR_BYTES,
        cmdStatus: AtaCommand.writeSectorsExt,
        lba,
      },
      bytes,
    );
    if (typeof data === "number") frame.fill(data, ATA_DATA);
    else data.copy(frame, ATA_DATA);
    return frame;
  }

  /** A READ SECTORS EXT of `count` sectors at `lba`; `ata` overrides its arguments, `dataBytes` adds a payload. */
  read(
    lba: number,
    count: number,
    overrides: Partial<HeaderFields> = {},
    ata: Partial<AtaArgs> = {},
    dataBytes = 0,
  ): Buffer {
    const args: AtaArgs = {
      aflags: AFLAG_LBA48,
      errFeature: 0,
      sectorCount: count,
      cmdStatus: AtaCommand.readSectorsExt,
      lba,
      ...ata,
    };
    return encodeAtaFrame(this.header(overrides), args, dataBytes);
  }
}

/** A frame's AoE tag. */
export function tagOf(frame: Buffer): number {
  return frame.readUInt32BE(AOE_TAG);
}

/** `frame` with an 802.1Q tag (TPID 0x8100, then the TCI) inserted after the MAC addresses. */
export function vlanTagged(frame: Buffer, tci: number): Buffer {
  const tag = Buffer.from([0x81, 0x00, tci >> 8, tci & 0xff]);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

/** Waits (polling, up to `deadlineMs`) until `answered(tag)`; throws naming `what` if it never is. */
export async function waitForReply(
  answered: (tag: number) => boolean,
  tag: number,
  what: string,
  deadlineMs: number,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!answered(tag)) {
    if (Date.now() > deadline) throw new Error(`no reply to ${what} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
