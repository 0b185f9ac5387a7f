/**
 * Hostile input against a running target over a real link: deterministic cases (the checks of
 * validateRequestHeader in src/aoe/codec/index.ts and the target's drop reasons), then 100,000 random and mutated frames. The target stays up,
 * counts its drops by reason, and still serves correct I/O. The random stream is seeded
 * (ETHERPLANE_FUZZ_SEED replays a run).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { fuzzFrameMaker } from "../../../test/sim/fuzz-frames.js";
import { SeededRandom } from "../../../test/sim/random.js";
import {
  createAoeLink,
  makeBackingFile,
  pattern,
  startInitiator,
  startTarget,
  type AoeLink,
} from "../../../test/lab/aoe-lab.js";
import { openAfPacketSocket } from "../../net/raw-socket/af-packet.js";
import { AOE_ETHERTYPE } from "../codec/header.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
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
/** The simulator sends 100,000 (hostile-frames.test.ts); here the real socket carries a share. */
const FRAMES = 20_000;

describe("hostile frames against a running target", () => {
  let link: AoeLink;
  let target: AoeTarget;
  let disk: string;
  let raw: RawSocket;
  const replies: Buffer[] = [];
  let targetMac: Buffer;

  const header = (overrides: Partial<HeaderFields> = {}): HeaderFields => ({
    dst: targetMac,
    src: raw.mac,
    flags: 0,
    error: 0,
    shelf: 6,
    slot: 0,
    command: AoeCommand.ata,
    tag: 0x80000000 + replies.length,
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
  const settle = () => new Promise((r) => setTimeout(r, 150));
  const diskBytes = (offset: number, length: number) =>
    fs.readFileSync(disk).subarray(offset, offset + length);

  before(async () => {
    link = await createAoeLink("fuzz");
    disk = makeBackingFile(link.dir, "disk.img", 4 * MiB);
    target = await startTarget(link.targetNs, {
      stateDir: `${link.dir}/state`,
      interfaces: ["tgt0"],
      exports: [{ address: "6.0", path: disk }],
    });
    targetMac = Buffer.from(
      (await link.targetNs.mac("tgt0")).split(":").map((h) => parseInt(h, 16)),
    );
    raw = openAfPacketSocket({
      ifname: "ini0",
      ethertype: AOE_ETHERTYPE,
      netnsPath: link.initiatorNs.path,
    });
    raw.onFrames((frames) => replies.push(...frames));
  });

  after(async () => {
    raw?.close();
    await target?.stop();
    await link?.close();
  });

  test("an ATA write to the broadcast address is not executed", async () => {
    raw.send([
      writeFrame({ shelf: 0xffff, slot: 0xff }, 0, Buffer.alloc(1024, 0xee)),
      writeFrame({ slot: 0xff }, 0, Buffer.alloc(1024, 0xee)),
    ]);
    await settle();
    assert.ok(diskBytes(0, 1024).every((b) => b === 0));
    assert.ok((target.stats().drops["not-addressed"] ?? 0) >= 2);
  });

  test("version 2 gets AoE error 5 and changes nothing", async () => {
    const frame = writeFrame({}, 0, Buffer.alloc(512, 0xdd));
    frame[14] = 2 << 4;
    const before = replies.length;
    raw.send([frame]);
    await settle();
    assert.ok(diskBytes(0, 512).every((b) => b === 0));
    const reply = replies
      .slice(before)
      .map(decodeHeader)
      .find((h) => !isInvalid(h) && h.tag === frame.readUInt32BE(20));
    assert.ok(reply && !isInvalid(reply), "an error reply came");
    assert.equal(reply.error, 5);
    assert.equal(reply.version, 1);
  });

  test("a request with the response flag, or from a multicast MAC, is not processed", async () => {
    const response = writeFrame({ flags: 0x08 }, 0, Buffer.alloc(512, 0xcc));
    const multicast = writeFrame(
      { src: Buffer.from([0x01, 0, 0x5e, 0, 0, 1]) },
      0,
      Buffer.alloc(512, 0xcc),
    );
    raw.send([response, multicast]);
    await settle();
    assert.ok(diskBytes(0, 512).every((b) => b === 0));
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
    raw.send([short, config]);
    await settle();
    assert.ok(diskBytes(0, 1024).every((b) => b === 0));
    assert.equal(target.exportState("6.0")?.configString.length, 0);
  });

  test(`${FRAMES} random and mutated frames: the target stays up, counts drops, and still serves`, async () => {
    const seed = Number(process.env["ETHERPLANE_FUZZ_SEED"] ?? Date.now() % 2 ** 31);
    const rng = new SeededRandom(seed);
    const make = fuzzFrameMaker({ rng, targetMac, sourceMac: raw.mac, shelf: 6 });
    const framesBefore = target.stats().framesIn;
    for (let sent = 0; sent < FRAMES; sent += 250) {
      raw.send(Array.from({ length: 250 }, make));
      await new Promise((r) => setImmediate(r));
      if (sent % 5000 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await settle();
    const stats = target.stats();
    const exportStats = stats.exports[0];
    assert.ok(exportStats);
    const received = stats.framesIn - framesBefore;
    assert.ok(
      received > FRAMES * 0.5,
      `seed ${seed}: the target received most frames (${received})`,
    );
    const drops = { ...stats.drops };
    for (const [reason, n] of Object.entries(exportStats.counters.drops))
      drops[reason as keyof typeof drops] = (drops[reason as keyof typeof drops] ?? 0) + n;
    assert.ok(
      Object.keys(drops).length >= 3,
      `seed ${seed}: drops are counted by reason: ${JSON.stringify(drops)}`,
    );
    assert.ok((drops.truncated ?? 0) > 0, `seed ${seed}: truncated frames were counted`);
    process.stderr.write(
      `fuzz seed ${seed}: received ${received}, drops ${JSON.stringify(drops)}, ata errors ${exportStats.counters.ataErrors}, aoe errors ${exportStats.counters.aoeErrors}\n`,
    );

    // The target still serves a correct read and write.
    const initiator = startInitiator(link.initiatorNs, ["ini0"]);
    try {
      const device = await initiator.openDevice(6, 0);
      assert.equal(device.sizeBytes, 4 * MiB, `seed ${seed}`);
      const data = pattern(MiB, seed);
      await device.write(data, MiB);
      const back = Buffer.alloc(MiB);
      await device.read(back, MiB);
      assert.ok(back.equals(data), `seed ${seed}: read-back after the fuzz`);
      assert.ok(diskBytes(MiB, MiB).equals(data));
      assert.equal(fs.statSync(disk).size, 4 * MiB, "the backing file kept its size");
    } finally {
      initiator.close();
    }
  });
});
