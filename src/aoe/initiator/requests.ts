/** Request frames the initiator sends, and the meaning of the target's ATA answers. */
import { EtherplaneError } from "../../foundation/errors.js";
import {
  AFLAG_LBA48,
  AFLAG_WRITE,
  AOE_COMMAND,
  AOE_ETHERTYPE,
  AOE_MAJOR,
  AOE_MINOR,
  AOE_VER_FLAGS,
  AOE_VERSION,
  ATA_AFLAGS,
  ATA_SECTOR_COUNT,
  ETH_FRAME_MIN_BYTES,
  ETH_TYPE,
  SECTOR_BYTES,
  writeLba,
  ATA_CMD_STATUS,
  ATA_DATA,
  ATA_ERR_FEATURE,
  AOE_FLAG_ERROR,
  AoeCommand,
  AtaCommand,
  AtaErrorBits,
  AtaStatus,
  ConfigCommand,
  encodeAtaFrame,
  encodeConfig,
  type AoeHeader,
} from "../codec/index.js";

const ZERO_MAC = Buffer.alloc(6);
const BROADCAST_MAC = Buffer.alloc(6, 0xff);

function requestHeader(shelf: number, slot: number, command: number) {
  // dst and src are filled in per path by the engine; the tag per send.
  return { dst: ZERO_MAC, src: ZERO_MAC, flags: 0, error: 0, shelf, slot, command, tag: 0 };
}

/** ATA status bits that mean failure to the Linux initiator (aoecmd.c: `cmdstat & 0xa9`). */
const ATA_FAILURE_BITS = AtaStatus.bsy | AtaStatus.df | AtaStatus.drq | AtaStatus.err;

/**
 * An ATA request frame without the codec's object plumbing (the initiator's hot path). The MACs
 * and the tag stay zero here: the engine writes them at each send.
 */
function ataFrame(
  shelf: number,
  slot: number,
  aflags: number,
  command: number,
  lba: number,
  sectors: number,
  data?: Buffer,
): Buffer {
  const dataBytes = data?.length ?? 0;
  const frame = Buffer.allocUnsafe(Math.max(ETH_FRAME_MIN_BYTES, ATA_DATA + dataBytes));
  frame.fill(0, 0, ATA_DATA);
  frame.writeUInt16BE(AOE_ETHERTYPE, ETH_TYPE);
  frame[AOE_VER_FLAGS] = AOE_VERSION << 4;
  frame.writeUInt16BE(shelf, AOE_MAJOR);
  frame[AOE_MINOR] = slot;
  frame[AOE_COMMAND] = AoeCommand.ata;
  frame[ATA_AFLAGS] = aflags;
  frame[ATA_SECTOR_COUNT] = sectors;
  frame[ATA_CMD_STATUS] = command;
  writeLba(frame, lba);
  if (data) data.copy(frame, ATA_DATA);
  else frame.fill(0, ATA_DATA);
  return frame;
}

export function ataRead(shelf: number, slot: number, lba: number, sectors: number): Buffer {
  return ataFrame(shelf, slot, AFLAG_LBA48, AtaCommand.readSectorsExt, lba, sectors);
}

export function ataWrite(shelf: number, slot: number, lba: number, data: Buffer): Buffer {
  return ataFrame(
    shelf,
    slot,
    AFLAG_LBA48 | AFLAG_WRITE,
    AtaCommand.writeSectorsExt,
    lba,
    data.length / SECTOR_BYTES,
    data,
  );
}

export function ataCommand(shelf: number, slot: number, command: number): Buffer {
  return encodeAtaFrame(requestHeader(shelf, slot, AoeCommand.ata), {
    aflags: command === AtaCommand.flushCacheExt ? AFLAG_LBA48 : 0,
    errFeature: 0,
    sectorCount: command === AtaCommand.identifyDevice ? 1 : 0,
    cmdStatus: command,
    lba: 0,
  });
}

export function queryConfig(shelf: number, slot: number, broadcast = false): Buffer {
  const frame = encodeConfig(requestHeader(shelf, slot, AoeCommand.queryConfig), {
    bufferCount: 0,
    firmware: 0,
    sectorCount: 0,
    aoeVersion: 0,
    ccmd: ConfigCommand.read,
    configString: Buffer.alloc(0),
  });
  if (broadcast) BROADCAST_MAC.copy(frame, 0);
  return frame;
}

const aoeErrorNames: Record<number, string> = {
  1: "unrecognized command",
  2: "bad argument",
  3: "device unavailable",
  4: "config string present",
  5: "unsupported version",
  6: "target reserved by another host",
};

/** The error an AoE error reply (E flag) means, or undefined when the flag is clear. */
export function aoeErrorOf(header: AoeHeader, what: string): EtherplaneError | undefined {
  if ((header.flags & AOE_FLAG_ERROR) === 0) return undefined;
  const name = aoeErrorNames[header.error] ?? `error ${header.error}`;
  return new EtherplaneError(
    "REFUSED",
    `e${header.shelf}.${header.slot} refused ${what}: ${name} (AoE error ${header.error})`,
    {
      params: { aoeError: header.error },
    },
  );
}

/**
 * The error an ATA reply's status means, or undefined on success. `describe` names the request
 * for the message; it runs only on failure (this check runs for every frame).
 */
export function ataErrorOf(
  frame: Buffer,
  header: AoeHeader,
  describe: string | (() => string),
): EtherplaneError | undefined {
  if (
    (header.flags & AOE_FLAG_ERROR) === 0 &&
    frame.length >= ATA_DATA &&
    ((frame[ATA_CMD_STATUS] as number) & ATA_FAILURE_BITS) === 0
  ) {
    return undefined; // the common case, decided without building any string
  }
  const what = typeof describe === "string" ? describe : describe();
  const aoe = aoeErrorOf(header, what);
  if (aoe) return aoe;
  if (frame.length < ATA_DATA)
    return new EtherplaneError(
      "PROTOCOL",
      `e${header.shelf}.${header.slot}: truncated ATA reply to ${what}`,
    );
  const status = frame[ATA_CMD_STATUS] as number;
  if ((status & ATA_FAILURE_BITS) === 0) return undefined;
  const error = frame[ATA_ERR_FEATURE] as number;
  const where = `e${header.shelf}.${header.slot}`;
  if (error & AtaErrorBits.idnf)
    return new EtherplaneError("OUT_OF_RANGE", `${where}: ${what} is beyond the end of the device`);
  if (error & AtaErrorBits.unc)
    return new EtherplaneError(
      "IO_ERROR",
      `${where}: the target could not read the data for ${what} (media error)`,
    );
  if (status & AtaStatus.df)
    return new EtherplaneError("IO_ERROR", `${where}: the target failed ${what} (device fault)`);
  return new EtherplaneError(
    "REFUSED",
    `${where}: the target aborted ${what} (status 0x${status.toString(16)}, error 0x${error.toString(16)})`,
    { params: { ataAbort: (error & AtaErrorBits.abrt) !== 0 } },
  );
}
