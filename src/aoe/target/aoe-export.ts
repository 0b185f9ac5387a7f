/**
 * One export: a shelf.slot served from a BlockDevice. It answers the four AoE commands for frames
 * the target routed to it, enforces its MAC mask list and reservation, and keeps its counters.
 * Replies go out through the port the request came in on.
 */
import { assert } from "../../foundation/assert.js";
import { realClock, type Clock } from "../../foundation/clock.js";
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import { IOVEC_BUFFERS_MAX, type VectoredBlockDevice } from "../../block/block-device.js";
import {
  ETH_FRAME_MIN_BYTES,
  writeAtaReplyHeader,
  AFLAG_WRITE,
  AOE_VERSION,
  ATA_DATA,
  AoeCommand,
  AoeError,
  AtaCommand,
  AtaErrorBits,
  AtaStatus,
  ConfigCommand,
  LBA48_MAX,
  POWER_MODE_ACTIVE,
  SECTOR_BYTES,
  allocFrame,
  decodeBody,
  effectiveLba,
  encodeIdentify,
  isInvalid,
  isReadCommand,
  isWriteCommand,
  replyHeader,
  validateRequestHeader,
  writeHeader,
  type AoeHeader,
  type AtaArgs,
  type AtaRequest,
  type ConfigMessage,
} from "../codec/index.js";
import type { ExportConfig } from "./config.js";
import { countDrop, newExportCounters, type ExportCounters } from "./counters.js";
import type { ExportState, ExportStateStore } from "./export-state.js";
import { GroupCommit } from "./group-commit.js";
import { adjacentRuns, type Extent } from "./io-runs.js";
import {
  configFrame,
  handleConfig,
  handleMacMask,
  handleReserve,
  type CommandContext,
} from "./management-commands.js";
import { PersistedExportState } from "./persisted-state.js";
import type { ExportSettings, Port } from "./port.js";
import {
  RecentWrites,
  sourceKey,
  WriteOrder,
  type OrderedWrite,
  type WriteMemory,
} from "./write-order.js";

export type { ExportSettings, Port } from "./port.js";

const BROADCAST_MAC = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** A read or write admitted from the current batch, waiting for `endBatch`. */
interface PendingIo extends Extent, OrderedWrite {
  header: AoeHeader;
  ata: AtaArgs;
  port: Port;
  /** A read's reply frame (`data` is its data area). */
  frame?: Buffer;
}

export class AoeExport implements CommandContext {
  readonly key: string;
  readonly counters: ExportCounters = newExportCounters();
  settings: ExportSettings;
  readonly state: PersistedExportState;
  private readonly identify: Buffer;
  private readonly groupCommit: GroupCommit;
  private readonly writeOrder: WriteOrder<PendingIo>;
  /** The writes this export holds (queued in the batch, in flight or waiting), for the fast path. */
  private writesPending = 0;
  private readonly writeMemory: WriteMemory;
  private drained: Array<() => void> = [];
  private batch: PendingIo[] = [];
  private ioErrorLoggedAtMs = 0;
  private ioErrorsUnlogged = 0;

  constructor(
    readonly shelf: number,
    readonly slot: number,
    readonly device: VectoredBlockDevice,
    settings: ExportSettings,
    state: ExportState,
    stateStore: ExportStateStore,
    private readonly log: Logger,
    identity: { model?: string; serial?: string } = {},
    /** Called when this export queues the first I/O of a batch; the target then calls endBatch. */
    private readonly onBatchStart: (e: AoeExport) => void = (e) =>
      queueMicrotask(() => e.endBatch()),
    /**
     * The native fast path's memory of completed writes (NativeFastPath.newWriteMemory), when
     * it may execute this export's writes too; both paths then record into and consult it.
     */
    readonly nativeWriteMemory?: WriteMemory,
    /** The target's clock, for the age of remembered completions when they are kept here. */
    clock: Clock = realClock,
  ) {
    this.key = `${shelf}.${slot}`;
    this.settings = settings;
    this.state = new PersistedExportState(this.key, state, stateStore, log);
    const sectors = Math.floor(device.sizeBytes / SECTOR_BYTES);
    this.identify = encodeIdentify({
      sectors,
      lba48: true,
      serial: identity.serial ?? `EP${shelf}-${slot}`,
      firmware: "ep-0.1",
      model: identity.model ?? `etherplane AoE e${shelf}.${slot}`,
    });
    this.groupCommit = new GroupCommit(() => device.flush());
    this.writeMemory = nativeWriteMemory ?? new RecentWrites({ clock });
    this.writeOrder = new WriteOrder<PendingIo>(this.writeMemory);
  }

  get sectors(): number {
    return Math.floor(this.device.sizeBytes / SECTOR_BYTES);
  }

  currentState(): Readonly<ExportState> {
    return this.state.current;
  }

  /** Handles a frame addressed to this export's own shelf.slot. */
  receive(frame: Buffer, header: AoeHeader, port: Port): void {
    this.counters.framesIn++;
    if (!this.state.allows(header)) return countDrop(this.counters.drops, "masked");
    if (header.version !== AOE_VERSION) {
      countDrop(this.counters.drops, "bad-version");
      return this.sendAoeError(header, port, AoeError.unsupportedVersion);
    }
    if (validateRequestHeader(header)?.reason === "bad-flags") {
      // The E flag, a reserved flag bit or an error byte in a request: refused, not guessed at.
      countDrop(this.counters.drops, "bad-flags");
      return this.sendAoeError(header, port, AoeError.badArgument);
    }
    const message = decodeBody(frame, header);
    if (isInvalid(message)) {
      countDrop(this.counters.drops, message.reason);
      if (message.reason === "unknown-command" && header.command < 0xf0) {
        // Commands 0xF0-0xFF are vendor-specific (AoEr11 2.5): ignore those silently.
        this.sendAoeError(header, port, AoeError.unrecognizedCommand);
      }
      return;
    }
    switch (message.command) {
      case AoeCommand.ata:
        return this.ata(message, port);
      case AoeCommand.queryConfig:
        return handleConfig(this, message, port, false);
      case AoeCommand.macMask:
        return handleMacMask(this, message, port);
      case AoeCommand.reserve:
        return handleReserve(this, message, port);
    }
  }

  /** Handles a broadcast query config (discovery). Only reads and tests answer a broadcast. */
  receiveBroadcastConfig(message: ConfigMessage, port: Port): void {
    this.counters.framesIn++;
    if (!this.state.allows(message.header)) return countDrop(this.counters.drops, "masked");
    if (message.config.ccmd >= ConfigCommand.setIfEmpty)
      return countDrop(this.counters.drops, "not-addressed");
    handleConfig(this, message, port, true);
  }

  /** The unsolicited config broadcast sent at start and when the MTU changes (version 1). */
  announce(port: Port): void {
    this.reply(port, configFrame(this, port, { dst: BROADCAST_MAC, tag: 0 }, ConfigCommand.read));
  }

  reply(port: Port, frame: Buffer): void {
    this.counters.framesOut++;
    port.send(frame);
  }

  sendAoeError(header: AoeHeader, port: Port, error: number): void {
    this.counters.aoeErrors++;
    // The header alone: the error code says everything, and no argument bytes are echoed.
    const frame = allocFrame(24);
    writeHeader(frame, replyHeader(header, port.mac, this.shelf, this.slot, error));
    this.reply(port, frame);
  }

  // --- ATA -------------------------------------------------------------------------------

  private ata(request: AtaRequest, port: Port): void {
    const { header, ata } = request;
    if (this.state.reservedAgainst(header))
      return this.sendAoeError(header, port, AoeError.targetReserved);
    if (directionDisagrees(ata)) {
      // A WRITE without the W bit, a READ or IDENTIFY with it (AoEr11 3.1: W says data goes to
      // the device): the initiator is confused about which way the data goes. Aborted.
      this.counters.directionAborts++;
      return this.failAta(header, port, AtaErrorBits.abrt, ata.sectorCount);
    }
    switch (ata.cmdStatus) {
      case AtaCommand.readSectors:
      case AtaCommand.readSectorsExt:
        return this.read(header, ata, port);
      case AtaCommand.writeSectors:
      case AtaCommand.writeSectorsExt:
        return this.write(header, ata, request.data, port);
      case AtaCommand.identifyDevice:
        return this.replyAta(header, port, AtaStatus.drdy, 0, ata.sectorCount, this.identify);
      case AtaCommand.checkPowerMode:
        return this.replyAta(header, port, AtaStatus.drdy, 0, POWER_MODE_ACTIVE);
      case AtaCommand.flushCache:
      case AtaCommand.flushCacheExt:
        return this.flush(header, ata, port);
      default:
        return this.failAta(header, port, AtaErrorBits.abrt, ata.sectorCount);
    }
  }

  /** Checks a transfer's range; answers the error itself and returns undefined when it fails. */
  private transfer(
    header: AoeHeader,
    ata: AtaArgs,
    port: Port,
  ): { offset: number; bytes: number } | undefined {
    const sectors = ata.sectorCount;
    const lba = effectiveLba(ata);
    if (sectors > port.sectorsMax) {
      // More than one frame can carry at this MTU: a confused initiator. Abort, never truncate.
      this.failAta(header, port, AtaErrorBits.abrt, sectors);
      return undefined;
    }
    if (lba + sectors > this.sectors || lba > LBA48_MAX) {
      this.failAta(header, port, AtaErrorBits.idnf, sectors);
      return undefined;
    }
    return { offset: lba * SECTOR_BYTES, bytes: sectors * SECTOR_BYTES };
  }

  private admit(): boolean {
    const counters = this.counters;
    // Twice the advertised count: room for a second initiator and for retransmitted duplicates.
    if (counters.inFlight >= this.settings.bufferCount * 2) {
      countDrop(counters.drops, "overloaded");
      return false;
    }
    counters.inFlight++;
    if (counters.inFlight > counters.inFlightMax) counters.inFlightMax = counters.inFlight;
    return true;
  }

  private release(): void {
    this.counters.inFlight--;
    assert(this.counters.inFlight >= 0, "in-flight count went negative");
    if (this.counters.inFlight === 0 && this.drained.length > 0) {
      for (const resolve of this.drained.splice(0)) resolve();
    }
  }

  private read(header: AoeHeader, ata: AtaArgs, port: Port): void {
    const range = this.transfer(header, ata, port);
    if (!range || !this.admit()) return;
    this.counters.readRequests++;
    // The reply is built around the data so the disk reads straight into the frame. Every byte of
    // it is written by the header writes or the read, so allocUnsafe never leaks earlier bytes.
    const frame =
      range.bytes === 0 ? allocFrame(ATA_DATA) : Buffer.allocUnsafe(ATA_DATA + range.bytes);
    this.queueIo({
      write: false,
      header,
      ata,
      port,
      offset: range.offset,
      bytes: range.bytes,
      tag: 0,
      source: 0,
      data: frame.subarray(ATA_DATA, ATA_DATA + range.bytes),
      frame,
    });
  }

  private write(header: AoeHeader, ata: AtaArgs, data: Buffer, port: Port): void {
    if (this.settings.readOnly)
      return this.failAta(header, port, AtaErrorBits.abrt, ata.sectorCount);
    const range = this.transfer(header, ata, port);
    if (!range || !this.admit()) return;
    this.counters.writeRequests++;
    this.writesPendingChange(1);
    // `data` is a view of the received batch buffer, which the socket adapter never reuses.
    this.queueIo({
      write: true,
      header,
      ata,
      port,
      offset: range.offset,
      bytes: range.bytes,
      tag: header.tag,
      source: sourceKey(header.frame),
      data: data.subarray(0, range.bytes),
    });
  }

  /**
   * Counts the writes this export holds; the native fast path takes none of its writes while
   * there are any (so no native write overlaps or overtakes one here).
   */
  private writesPendingChange(delta: number): void {
    this.writesPending += delta;
    assert(this.writesPending >= 0, "pending write count went negative");
    this.writeMemory.setPending(this.writesPending);
  }

  private queueIo(io: PendingIo): void {
    this.batch.push(io);
    if (this.batch.length === 1) this.onBatchStart(this);
  }

  /**
   * Issues the reads and writes collected from one received batch: requests for adjacent sectors
   * become one preadv/pwritev (a sequential stream of 1 KiB frames costs one system call per batch
   * instead of one per frame). Writes pass the export's write order first, in arrival order.
   */
  endBatch(): void {
    const ios = this.batch;
    if (ios.length === 0) return;
    this.batch = [];
    const ready: PendingIo[] = [];
    for (const io of ios) {
      if (!io.write) {
        ready.push(io);
        continue;
      }
      switch (this.writeOrder.admit(io)) {
        case "issue":
          ready.push(io);
          break;
        case "wait":
          this.counters.writesOrdered++;
          break;
        case "in-flight-copy":
          countDrop(this.counters.drops, "duplicate");
          this.writesPendingChange(-1);
          this.release();
          break;
        case "done-copy":
          this.counters.writeCopiesAcknowledged++;
          this.replyAta(io.header, io.port, AtaStatus.drdy, 0, io.ata.sectorCount);
          this.writesPendingChange(-1);
          this.release();
          break;
      }
    }
    this.issueRuns(ready);
  }

  private issueRuns(ios: PendingIo[]): void {
    if (ios.length === 0) return;
    for (const run of adjacentRuns(ios, IOVEC_BUFFERS_MAX)) this.issue(run);
  }

  private issue(run: PendingIo[]): void {
    const head = run[0] as PendingIo;
    const buffers = run.map((io) => io.data);
    const durable = head.write && this.settings.durable;
    this.counters.ioCalls++;
    const io = head.write
      ? this.device.writev(buffers, head.offset)
      : this.device.readv(buffers, head.offset);
    io.then(() => (durable ? this.groupCommit.sync() : undefined)).then(
      () => {
        const released: PendingIo[] = [];
        for (const done of run) {
          if (done.write) {
            this.counters.writtenBytes += done.data.length;
            this.replyAta(done.header, done.port, AtaStatus.drdy, 0, done.ata.sectorCount);
            for (const next of this.writeOrder.complete(done, true)) released.push(next);
            this.writesPendingChange(-1);
          } else {
            const frame = done.frame as Buffer;
            this.counters.readBytes += done.data.length;
            writeAtaReplyHeader(
              frame,
              done.header.frame,
              done.port.mac,
              AtaStatus.drdy,
              0,
              done.ata.sectorCount,
            );
            this.reply(done.port, frame);
          }
          this.release();
        }
        this.issueRuns(released);
      },
      (error: unknown) => {
        this.ioFailed(head.write ? "write" : "read", head.offset, error);
        const released: PendingIo[] = [];
        for (const done of run) {
          if (done.write) {
            this.replyAta(
              done.header,
              done.port,
              AtaStatus.drdy | AtaStatus.err | AtaStatus.df,
              AtaErrorBits.abrt,
              done.ata.sectorCount,
            );
            for (const next of this.writeOrder.complete(done, false)) released.push(next);
            this.writesPendingChange(-1);
          } else {
            this.replyAta(
              done.header,
              done.port,
              AtaStatus.drdy | AtaStatus.err,
              AtaErrorBits.unc,
              done.ata.sectorCount,
            );
          }
          this.release();
        }
        this.issueRuns(released);
      },
    );
  }

  private flush(header: AoeHeader, ata: AtaArgs, port: Port): void {
    if (!this.admit()) return;
    this.counters.flushes++;
    this.groupCommit.sync().then(
      () => {
        this.replyAta(header, port, AtaStatus.drdy, 0, ata.sectorCount);
        this.release();
      },
      (error: unknown) => {
        this.ioFailed("flush", 0, error);
        this.replyAta(
          header,
          port,
          AtaStatus.drdy | AtaStatus.err | AtaStatus.df,
          AtaErrorBits.abrt,
          ata.sectorCount,
        );
        this.release();
      },
    );
  }

  private ioFailed(op: string, offset: number, error: unknown): void {
    this.counters.ioErrors++;
    this.counters.ataErrors++;
    // A full or failing disk fails every request: log the first, then at most one a second.
    const now = Date.now();
    if (now - this.ioErrorLoggedAtMs < 1000) {
      this.ioErrorsUnlogged++;
      return;
    }
    this.log.error(`${op} failed on e${this.key}; the initiator gets an ATA error`, {
      offset,
      error: errorMessage(error),
      ...(this.ioErrorsUnlogged > 0 ? { alsoFailedSinceLastLog: this.ioErrorsUnlogged } : {}),
    });
    this.ioErrorLoggedAtMs = now;
    this.ioErrorsUnlogged = 0;
  }

  /** An ATA reply echoing the request's arguments with the given status (never the AoE E flag). */
  /** Fails an ATA command (counted): DRDY|ERR in the status, `error` (ABRT, IDNF) in the error byte. */
  private failAta(header: AoeHeader, port: Port, error: number, sectorCount: number): void {
    this.counters.ataErrors++;
    this.replyAta(header, port, AtaStatus.drdy | AtaStatus.err, error, sectorCount);
  }

  private replyAta(
    header: AoeHeader,
    port: Port,
    status: number,
    error: number,
    sectorCount: number,
    data?: Buffer,
  ): void {
    const frame = Buffer.allocUnsafe(Math.max(ETH_FRAME_MIN_BYTES, ATA_DATA + (data?.length ?? 0)));
    writeAtaReplyHeader(frame, header.frame, port.mac, status, error, sectorCount);
    if (data) data.copy(frame, ATA_DATA);
    frame.fill(0, ATA_DATA + (data?.length ?? 0)); // padding: never stale bytes
    this.reply(port, frame);
  }

  /** Resolves when no request of this export is in flight. */
  drain(): Promise<void> {
    if (this.counters.inFlight === 0) return this.state.settled();
    return new Promise<void>((resolve) => this.drained.push(resolve)).then(() =>
      this.state.settled(),
    );
  }
}

/** Whether a data command's aflags W bit says the opposite of its opcode's direction. */
function directionDisagrees(ata: AtaArgs): boolean {
  const writeBit = (ata.aflags & AFLAG_WRITE) !== 0;
  if (isWriteCommand(ata.cmdStatus)) return !writeBit;
  if (isReadCommand(ata.cmdStatus) || ata.cmdStatus === AtaCommand.identifyDevice) return writeBit;
  return false;
}

export function settingsOf(config: ExportConfig, bufferCount: number): ExportSettings {
  return {
    readOnly: config.readOnly,
    durable: config.durable,
    bufferCount,
    accessLocked: config.accessLocked ?? false,
  };
}
