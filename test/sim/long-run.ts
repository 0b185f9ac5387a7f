/**
 * A long simulation of the AoE data path: our initiator writes and reads random regions of an
 * export over a faulty simulated link (loss, duplication, reordering, jitter) while a hostile host
 * on the same link sends frames that are not valid requests. After every step of the simulated
 * clock the invariants are checked:
 *   - acknowledged writes are readable (the disk holds them at acknowledgement; reads equal the model);
 *   - no state change without a valid request (every disk write carries the payload of a write
 *     request the initiator sent to that offset; no export state is saved);
 *   - no reply to an unaddressed frame (nothing from the target carries a hostile frame's tag).
 * Everything derives from the seed, so a failure replays exactly from it.
 */
import {
  AFLAG_WRITE,
  AOE_COMMAND,
  AOE_ETHERTYPE,
  AOE_TAG,
  AoeCommand,
  ATA_AFLAGS,
  ATA_DATA,
  ATA_SECTOR_COUNT,
  ETH_TYPE,
  readLba,
  SECTOR_BYTES,
  type HeaderFields,
} from "../../src/aoe/codec/index.js";
import { RequestFrames } from "../../src/aoe/testing/request-frames.js";
import { AoeSim } from "./aoe-sim.js";
import { SeededRandom } from "./random.js";
import type { SimRawSocket } from "./sim-segment.js";
import { errorMessage } from "../../src/foundation/errors.js";

export interface LongRunOptions {
  seed: number;
  /** Frames put on the wire before the run ends. */
  frames: number;
  /** Called about every `progressFrames` frames. */
  onProgress?: (summary: LongRunSummary) => void;
  progressFrames?: number;
  /** Test hook: the disk flips one bit of the n-th write (proves the invariants can fail). */
  corruptWrite?: number;
}

export interface LongRunSummary {
  seed: number;
  frames: number;
  steps: number;
  virtualMs: number;
  writesAcknowledged: number;
  readsVerified: number;
  hostileFrames: number;
  lost: number;
  duplicated: number;
  reordered: number;
  retransmits: number;
}

export class InvariantError extends Error {
  constructor(
    readonly invariant: string,
    readonly step: number,
    detail: string,
  ) {
    super(`invariant "${invariant}" failed at step ${step}: ${detail}`);
    this.name = "InvariantError";
  }
}

const DISK_BYTES = 1024 * 1024;
const REGION_BYTES = 16 * 1024;
const REGIONS = DISK_BYTES / REGION_BYTES;
const CONCURRENT_OPS = 6;
/** Tags of hostile frames: the kernel's range (top bit clear), which our initiator never uses. */
const HOSTILE_TAG_BASE = 0x7e000000;
/** Write payloads remembered per offset (retransmissions and duplicates of recent requests). */
const AUTHORISED_PER_OFFSET_MAX = 16;

export async function longRun(options: LongRunOptions): Promise<LongRunSummary> {
  const random = new SeededRandom(options.seed);
  const faults = {
    lossRate: 0.01 + random.float() * 0.04,
    duplicateRate: random.float() * 0.03,
    reorderRate: random.float() * 0.03,
    delayMs: 0.05 + random.float() * 0.2,
    jitterMs: random.float() * 0.3,
  };
  const sim = new AoeSim({ seed: random.next(), faults });
  const disk = sim.disk("/sim/disk.img", DISK_BYTES);
  const model = Buffer.alloc(DISK_BYTES);
  const link = sim.link("ini0");
  let failure: InvariantError | undefined;
  const fail = (invariant: string, detail: string) => {
    failure ??= new InvariantError(invariant, sim.clock.steps, detail);
  };

  const summary: LongRunSummary = {
    seed: options.seed,
    frames: 0,
    steps: 0,
    virtualMs: 0,
    writesAcknowledged: 0,
    readsVerified: 0,
    hostileFrames: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    retransmits: 0,
  }; // What the initiator asked to write, by byte offset (payloads of write frames it sent).
  const authorised = new Map<number, Buffer[]>();
  const isHostileTag = (tag: number) =>
    tag >= HOSTILE_TAG_BASE && tag < HOSTILE_TAG_BASE + summary.hostileFrames;
  link.tap((frame, from) => {
    if (frame.length < ATA_DATA || frame.readUInt16BE(ETH_TYPE) !== AOE_ETHERTYPE) return;
    const tag = frame.readUInt32BE(AOE_TAG);
    const isWrite =
      frame[AOE_COMMAND] === AoeCommand.ata && ((frame[ATA_AFLAGS] as number) & AFLAG_WRITE) !== 0;
    if (from.ifname === "ini0" && isWrite) {
      const offset = readLba(frame) * SECTOR_BYTES;
      const bytes = (frame[ATA_SECTOR_COUNT] as number) * SECTOR_BYTES;
      const list = authorised.get(offset) ?? [];
      list.push(Buffer.from(frame.subarray(ATA_DATA, ATA_DATA + bytes)));
      // Bounded: the newest payloads per offset (the disk's offsets bound the map itself).
      if (list.length > AUTHORISED_PER_OFFSET_MAX) list.shift();
      authorised.set(offset, list);
    }
    if (from.ifname === "tgt0" && isHostileTag(tag))
      fail(
        "no reply for an unaddressed frame",
        `the target answered hostile tag 0x${tag.toString(16)}`,
      );
  });
  let writesSeen = 0;
  disk.onWrite = (offset, data) => {
    writesSeen++;
    if (writesSeen === options.corruptWrite) data[0] = (data[0] as number) ^ 1;
    const asked = authorised.get(offset);
    if (!asked?.some((payload) => payload.equals(data)))
      fail(
        "no state change without a valid request",
        `the disk was written at ${offset} (${data.length} bytes) with data no write request carried`,
      );
  };

  const target = await sim.startTarget({
    interfaces: ["tgt0"],
    exports: [{ address: "1.0", path: "/sim/disk.img" }],
  });
  const initiator = sim.initiator(["ini0"]);
  const hostile: SimRawSocket = sim.socket("evil0");
  const targetMac = sim.mac("tgt0");
  let device;
  for (let attempt = 0; !device; attempt++) {
    try {
      device = await sim.run(initiator.openDevice(1, 0, { listenMs: 300 }));
    } catch (error) {
      if (attempt > 20) throw error; // discovery frames can be lost too
    }
  }
  const opened = device;

  const update = () => {
    summary.frames = link.counters.sent;
    summary.steps = sim.clock.steps;
    summary.virtualMs = Math.round(sim.clock.nowMs() - 1_000_000);
    summary.lost = link.counters.lost;
    summary.duplicated = link.counters.duplicated;
    summary.reordered = link.counters.reordered;
    summary.retransmits = initiator.engine.counters.retransmits;
    return summary;
  };

  const hostileRequests = new RequestFrames({
    dst: targetMac,
    src: hostile.mac,
    shelf: 1,
    firstTag: HOSTILE_TAG_BASE,
  });
  /** What makes each kind of hostile write not a valid request for 1.0. */
  const hostileKinds: Array<Partial<HeaderFields>> = [
    { shelf: 0xffff, slot: 0xff }, // broadcast ATA
    { shelf: 7 }, // nobody exports 7.x
    { flags: 0x08 }, // a response, not a request
    { src: Buffer.from([0x01, 0, 0x5e, 0, 0, 1]) }, // a multicast source
  ];
  const hostileFrame = (): Buffer => {
    const tag = HOSTILE_TAG_BASE + summary.hostileFrames++;
    const data = random.bytes(SECTOR_BYTES * (1 + random.below(2)));
    const kind = random.below(5);
    if (kind === 4) {
      // Noise behind an AoE header for shelf 7.
      const frame = random.bytes(24 + random.below(1000));
      targetMac.copy(frame, 0);
      hostile.mac.copy(frame, 6);
      frame.writeUInt16BE(AOE_ETHERTYPE, ETH_TYPE);
      frame.writeUInt16BE(7, 16);
      frame.writeUInt32BE(tag, AOE_TAG);
      return frame;
    }
    const lba = random.below(DISK_BYTES / SECTOR_BYTES - 2);
    return hostileRequests.write(lba, data, { ...hostileKinds[kind], tag }, AFLAG_WRITE);
  };

  const busy = new Set<number>();
  let running = 0;
  const startOp = () => {
    let region = random.below(REGIONS);
    while (busy.has(region)) region = (region + 1) % REGIONS;
    busy.add(region);
    running++;
    const offset = region * REGION_BYTES + SECTOR_BYTES * random.below(16);
    const length = SECTOR_BYTES * (1 + random.below(REGION_BYTES / SECTOR_BYTES - 16));
    const finish = () => {
      busy.delete(region);
      running--;
    };
    if (random.chance(0.5)) {
      const data = random.bytes(length);
      opened.write(data, offset).then(
        () => {
          finish();
          if (!disk.bytes.subarray(offset, offset + length).equals(data))
            return fail(
              "acknowledged writes readable",
              `the write at ${offset} is not on the disk`,
            );
          data.copy(model, offset);
          summary.writesAcknowledged++;
        },
        (error: unknown) => {
          finish();
          fail("acknowledged writes readable", `a write failed: ${errorMessage(error)}`);
        },
      );
    } else {
      const back = Buffer.alloc(length);
      opened.read(back, offset).then(
        () => {
          finish();
          if (!back.equals(model.subarray(offset, offset + length)))
            return fail(
              "acknowledged writes readable",
              `the read at ${offset} differs from what was acknowledged`,
            );
          summary.readsVerified++;
        },
        (error: unknown) => {
          finish();
          fail("acknowledged writes readable", `a read failed: ${errorMessage(error)}`);
        },
      );
    }
    if (random.chance(0.3)) hostile.send([hostileFrame()]);
  };

  const progressFrames = options.progressFrames ?? 100_000;
  let nextProgress = progressFrames;
  const afterStep = () => {
    if (sim.stateStore.saves > 0)
      fail("no state change without a valid request", "export state was saved");
    while (!failure && running < CONCURRENT_OPS && link.counters.sent < options.frames) startOp();
    if (failure) throw failure;
    if (link.counters.sent >= nextProgress) {
      nextProgress += progressFrames;
      options.onProgress?.(update());
    }
  };
  afterStep();
  await sim.clock.runUntil(
    () => failure !== undefined || (link.counters.sent >= options.frames && running === 0),
    `${options.frames} frames`,
    { afterStep, virtualMsMax: Number.MAX_SAFE_INTEGER },
  );
  if (failure) throw failure;
  // At the end every byte of the disk is what was acknowledged.
  if (!disk.bytes.equals(model)) {
    const detail = "the disk differs from the model at the end";
    throw new InvariantError("acknowledged writes readable", sim.clock.steps, detail);
  }
  initiator.close();
  await sim.run(target.stop());
  return update();
}
