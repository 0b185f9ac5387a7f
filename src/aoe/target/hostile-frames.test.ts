/**
 * Hostile input against a running target, on the simulator: the deterministic cases of the
 * AoE protocol's hostile-input list, then 100,000 random and mutated frames. The target stays
 * up, counts its drops by reason, changes nothing for frames that are not valid requests, and
 * still serves correct I/O. Seeded: the seed is printed and ETHERPLANE_SIM_SEED replays it.
 * (fuzz.integ.test.ts sends a shorter stream through the real AF_PACKET socket.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AoeSim } from "../../../test/sim/aoe-sim.js";
import { pattern } from "../../../test/sim/pattern.js";
import { SeededRandom, simSeed } from "../../../test/sim/random.js";
import type { SimRawSocket } from "../../../test/sim/sim-segment.js";
import { fuzzFrameMaker } from "../../../test/sim/fuzz-frames.js";
import {
  AFLAG_LBA48,
  AFLAG_WRITE,
  AoeCommand,
  AtaCommand,
  CFG_STRING_LENGTH,
  ConfigCommand,
  decodeHeader,
  encodeAtaFrame,
  encodeConfig,
  isInvalid,
  type HeaderFields,
} from "../codec/index.js";
import type { AoeTarget } from "./aoe-target.js";

const MiB = 1024 * 1024;
const FRAMES = 100_000;

describe("hostile frames against a running target (simulated link)", () => {
  const seed = simSeed("hostile frames");
  const sim = new AoeSim({ seed });
  const disk = sim.disk("/sim/disk.img", 4 * MiB);
  let target: AoeTarget;
  let raw: SimRawSocket;
  let targetMac: Buffer;
  const replies: Buffer[] = [];
  let nextTag = 0x80000000;

  const header = (overrides: Partial<HeaderFields> = {}): HeaderFields => ({
    dst: targetMac,
    src: raw.mac,
    flags: 0,
    error: 0,
    shelf: 6,
    slot: 0,
    command: AoeCommand.ata,
    tag: nextTag++,
    ...overrides,
  });
  const writeFrame = (fields: Partial<HeaderFields>, lba: number, data: Buffer) => {
    const frame = encodeAtaFrame(
      header(fields),
      {
        aflags: AFLAG_LBA48 | AFLAG_WRITE,
        errFeature: 0,
        sectorCount: data.length / 512,
        cmdStatus: AtaCommand.writeSectorsExt,
        lba,
      },
      data.length,
    );
    data.copy(frame, 36);
    return frame;
  };
  /** Sends and lets the target answer (virtual time). */
  const deliver = (frames: Buffer[]) => {
    raw.send(frames);
    return sim.clock.advance(50);
  };
  const untouched = (offset: number, length: number) =>
    disk.bytes.subarray(offset, offset + length).every((b) => b === 0);

  before(async () => {
    target = await sim.startTarget({
      interfaces: ["tgt0"],
      exports: [{ address: "6.0", path: "/sim/disk.img" }],
    });
    targetMac = sim.mac("tgt0");
    raw = sim.socket("ini0");
    raw.onFrames((frames) => replies.push(...frames));
  });
  after(() => sim.close());

  test("an ATA write to the broadcast address is not executed", async () => {
    const dropsBefore = target.stats().drops["not-addressed"] ?? 0;
    await deliver([
      writeFrame({ shelf: 0xffff, slot: 0xff }, 0, Buffer.alloc(1024, 0xee)),
      writeFrame({ slot: 0xff }, 0, Buffer.alloc(1024, 0xee)),
    ]);
    assert.ok(untouched(0, 1024));
    assert.equal((target.stats().drops["not-addressed"] ?? 0) - dropsBefore, 2);
    assert.equal(disk.writes, 0);
  });

  test("version 2 gets AoE error 5 and changes nothing", async () => {
    const frame = writeFrame({}, 0, Buffer.alloc(512, 0xdd));
    frame[14] = 2 << 4;
    const before = replies.length;
    await deliver([frame]);
    assert.ok(untouched(0, 512));
    const reply = replies
      .slice(before)
      .map(decodeHeader)
      .find((h) => !isInvalid(h) && h.tag === frame.readUInt32BE(20));
    assert.ok(reply && !isInvalid(reply), "an error reply came");
    assert.equal(reply.error, 5);
    assert.equal(reply.version, 1);
  });

  test("a request with the response flag, or from a multicast MAC, is not processed", async () => {
    const before = replies.length;
    const response = writeFrame({ flags: 0x08 }, 0, Buffer.alloc(512, 0xcc));
    const multicast = writeFrame(
      { src: Buffer.from([0x01, 0, 0x5e, 0, 0, 1]) },
      0,
      Buffer.alloc(512, 0xcc),
    );
    await deliver([response, multicast]);
    assert.ok(untouched(0, 512));
    assert.equal(replies.length, before, "no reply to either");
  });

  test("a write for a shelf.slot nobody exports gets no reply and changes nothing", async () => {
    const before = replies.length;
    await deliver([writeFrame({ shelf: 7 }, 0, Buffer.alloc(512, 0xaa))]);
    assert.ok(untouched(0, 512));
    assert.equal(replies.length, before);
  });

  test("lying lengths: a write with too little data, a config string longer than its frame", async () => {
    const short = writeFrame({}, 0, Buffer.alloc(1024, 0xbb)).subarray(0, 36 + 600);
    const config = encodeConfig(header({ command: AoeCommand.queryConfig }), {
      bufferCount: 0,
      firmware: 0,
      sectorCount: 0,
      aoeVersion: 1,
      ccmd: ConfigCommand.forceSet,
      configString: Buffer.from("x"),
    });
    config.writeUInt16BE(1000, CFG_STRING_LENGTH);
    await deliver([short, config]);
    assert.ok(untouched(0, 1024));
    assert.equal(target.exportState("6.0")?.configString.length, 0);
    assert.equal(sim.stateStore.saves, 0, "no state was saved");
  });

  test(`${FRAMES} random and mutated frames: the target stays up, counts drops, and still serves`, async () => {
    const rng = new SeededRandom(seed);
    const make = fuzzFrameMaker({ rng, targetMac, sourceMac: raw.mac, shelf: 6 });
    const framesBefore = target.stats().framesIn;
    const link = sim.link("ini0");
    const oversizeBefore = link.counters.oversize;
    for (let sent = 0; sent < FRAMES; sent += 250) {
      raw.send(Array.from({ length: 250 }, make));
      await sim.clock.advance(1);
    }
    await sim.clock.advance(100);
    const stats = target.stats();
    const exportStats = stats.exports[0];
    assert.ok(exportStats);
    const received = stats.framesIn - framesBefore;
    // A simulated link loses nothing it was not told to: every frame the MTU lets through arrives.
    const oversize = link.counters.oversize - oversizeBefore;
    assert.equal(received + oversize, FRAMES, `seed ${seed}: the target received every frame`);
    const drops = { ...stats.drops };
    for (const [reason, n] of Object.entries(exportStats.counters.drops))
      drops[reason as keyof typeof drops] = (drops[reason as keyof typeof drops] ?? 0) + n;
    assert.ok(
      Object.keys(drops).length >= 3,
      `seed ${seed}: drops are counted by reason: ${JSON.stringify(drops)}`,
    );
    assert.ok((drops.truncated ?? 0) > 0, `seed ${seed}: truncated frames were counted`);
    process.stderr.write(
      `hostile frames, seed ${seed}: received ${received}, drops ${JSON.stringify(drops)}, ata errors ${exportStats.counters.ataErrors}, aoe errors ${exportStats.counters.aoeErrors}\n`,
    );

    // The target still serves a correct read and write.
    const initiator = sim.initiator(["ini0"]);
    const device = await sim.run(initiator.openDevice(6, 0));
    assert.equal(device.sizeBytes, 4 * MiB, `seed ${seed}`);
    const data = pattern(MiB, seed);
    await sim.run(device.write(data, MiB));
    const back = Buffer.alloc(MiB);
    await sim.run(device.read(back, MiB));
    assert.ok(back.equals(data), `seed ${seed}: read-back after the fuzz`);
    assert.ok(disk.bytes.subarray(MiB, 2 * MiB).equals(data));
  });
});
