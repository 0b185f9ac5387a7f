/**
 * The hostile-input cases against a running target, written once and run on two links: the
 * simulator (hostile-frames.test.ts, every frame delivered, virtual time) and real AF_PACKET
 * sockets on veth (fuzz.integ.test.ts). The deterministic cases of the AoE protocol's hostile
 * input list (the checks of validateRequestHeader in src/aoe/codec/index.ts and the target's
 * drop reasons), then a seeded stream of random and mutated frames: the target stays up, counts
 * its drops by reason, changes nothing for frames that are not valid requests, and still serves
 * correct I/O.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { BlockDevice } from "../../block/block-device.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import { fuzzFrameMaker } from "../../../test/sim/fuzz-frames.js";
import { pattern } from "../../../test/sim/pattern.js";
import { SeededRandom } from "../../../test/sim/random.js";
import {
  AoeCommand,
  CFG_STRING_LENGTH,
  ConfigCommand,
  decodeHeader,
  encodeConfig,
  isInvalid,
} from "../codec/index.js";
import type { AoeTarget } from "../target/aoe-target.js";
import { RequestFrames, tagOf } from "./request-frames.js";

const MiB = 1024 * 1024;
/** The export under test: 6.0, a zeroed disk of this size. */
export const HOSTILE_SHELF = 6;
export const HOSTILE_DISK_BYTES = 4 * MiB;
/** Random frames sent per burst, then the link paces (sendBurst). */
const BURST = 250;

/** A target serving 6.0 (HOSTILE_DISK_BYTES, zeroed) and a raw socket beside an initiator. */
export interface HostileFrameLink {
  target: AoeTarget;
  targetMac: Buffer;
  /** The initiator side; every frame it receives is in `replies`. */
  raw: RawSocket;
  replies: Buffer[];
  /** Sends `frames` and resolves once the target has handled them and everything before. */
  deliver(frames: Buffer[]): Promise<void>;
  /** Sends one burst of the random stream, then lets the target keep up. */
  sendBurst(frames: Buffer[]): Promise<void>;
  diskBytes(offset: number, length: number): Buffer;
  /** True where every frame sent reaches the target (the simulator), not just most (a socket). */
  lossless: boolean;
  /** Frames the link itself refused as larger than its MTU, so far. */
  oversize(): number;
  /** Opens 6.0 through an initiator on the link (closed by the link). */
  openDevice(): Promise<BlockDevice>;
  /** Runs a promise to its end (the simulator drives its clock meanwhile). */
  run<T>(promise: Promise<T>): Promise<T>;
  /** What only the simulator sees: no write reached the disk and no state was saved. */
  assertNothingStored(): void;
}

/**
 * Registers the hostile-frame tests (inside the caller's describe); `link()` is read when each
 * test runs, after the caller's before() made it.
 */
export function hostileFrameTests(
  link: () => HostileFrameLink,
  options: { frames: number; seed: number; label: string },
): void {
  let requests: RequestFrames | undefined;
  const frames = (): RequestFrames => {
    const { targetMac, raw } = link();
    requests ??= new RequestFrames({
      dst: targetMac,
      src: raw.mac,
      shelf: HOSTILE_SHELF,
      firstTag: 0x80000000,
    });
    return requests;
  };
  const untouched = (offset: number, length: number) =>
    link()
      .diskBytes(offset, length)
      .every((b) => b === 0);
  const repliesTo = (since: number, sent: Buffer[]) => {
    const tags = new Set(sent.map(tagOf));
    return link()
      .replies.slice(since)
      .filter((reply) => tags.has(tagOf(reply)));
  };

  test("an ATA write to the broadcast address is not executed", async () => {
    const { target } = link();
    const dropsBefore = target.stats().drops["not-addressed"] ?? 0;
    await link().deliver([
      frames().write(0, Buffer.alloc(1024, 0xee), { shelf: 0xffff, slot: 0xff }),
      frames().write(0, Buffer.alloc(1024, 0xee), { slot: 0xff }),
    ]);
    assert.ok(untouched(0, 1024));
    assert.equal((target.stats().drops["not-addressed"] ?? 0) - dropsBefore, 2);
    link().assertNothingStored();
  });

  test("version 2 gets AoE error 5 and changes nothing", async () => {
    const frame = frames().write(0, Buffer.alloc(512, 0xdd));
    frame[14] = 2 << 4;
    const before = link().replies.length;
    await link().deliver([frame]);
    assert.ok(untouched(0, 512));
    const reply = link()
      .replies.slice(before)
      .map(decodeHeader)
      .find((h) => !isInvalid(h) && h.tag === tagOf(frame));
    assert.ok(reply && !isInvalid(reply), "an error reply came");
    assert.equal(reply.error, 5);
    assert.equal(reply.version, 1);
  });

  test("a request with the response flag, or from a multicast MAC, is not processed", async () => {
    const before = link().replies.length;
    const response = frames().write(0, Buffer.alloc(512, 0xcc), { flags: 0x08 });
    const multicast = frames().write(0, Buffer.alloc(512, 0xcc), {
      src: Buffer.from([0x01, 0, 0x5e, 0, 0, 1]),
    });
    await link().deliver([response, multicast]);
    assert.ok(untouched(0, 512));
    assert.deepEqual(repliesTo(before, [response, multicast]), [], "no reply to either");
  });

  test("a write for a shelf.slot nobody exports gets no reply and changes nothing", async () => {
    const before = link().replies.length;
    const frame = frames().write(0, Buffer.alloc(512, 0xaa), { shelf: 7 });
    await link().deliver([frame]);
    assert.ok(untouched(0, 512));
    assert.deepEqual(repliesTo(before, [frame]), []);
  });

  test("lying lengths: a write with too little data, a config string longer than its frame", async () => {
    const short = frames()
      .write(0, Buffer.alloc(1024, 0xbb))
      .subarray(0, 36 + 600);
    const config = encodeConfig(frames().header({ command: AoeCommand.queryConfig }), {
      bufferCount: 0,
      firmware: 0,
      sectorCount: 0,
      aoeVersion: 1,
      ccmd: ConfigCommand.forceSet,
      configString: Buffer.from("x"),
    });
    config.writeUInt16BE(1000, CFG_STRING_LENGTH);
    await link().deliver([short, config]);
    assert.ok(untouched(0, 1024));
    assert.equal(link().target.exportState("6.0")?.configString.length, 0);
    link().assertNothingStored();
  });

  test(`${options.frames} random and mutated frames: the target stays up, counts drops, and still serves`, async () => {
    const { target, targetMac, raw } = link();
    const { seed } = options;
    const make = fuzzFrameMaker({
      rng: new SeededRandom(seed),
      targetMac,
      sourceMac: raw.mac,
      shelf: HOSTILE_SHELF,
    });
    const framesBefore = target.stats().framesIn;
    const oversizeBefore = link().oversize();
    for (let sent = 0; sent < options.frames; sent += BURST)
      await link().sendBurst(Array.from({ length: BURST }, make));
    await link().deliver([]);
    const stats = target.stats();
    const exportStats = stats.exports[0];
    assert.ok(exportStats);
    const received = stats.framesIn - framesBefore;
    if (link().lossless) {
      // A simulated link loses nothing it was not told to: every frame the MTU lets through arrives.
      const oversize = link().oversize() - oversizeBefore;
      assert.equal(received + oversize, options.frames, `seed ${seed}: received every frame`);
    } else {
      assert.ok(received > options.frames * 0.5, `seed ${seed}: received most (${received})`);
    }
    const drops = { ...stats.drops };
    for (const [reason, n] of Object.entries(exportStats.counters.drops))
      drops[reason as keyof typeof drops] = (drops[reason as keyof typeof drops] ?? 0) + n;
    assert.ok(
      Object.keys(drops).length >= 3,
      `seed ${seed}: drops are counted by reason: ${JSON.stringify(drops)}`,
    );
    assert.ok((drops.truncated ?? 0) > 0, `seed ${seed}: truncated frames were counted`);
    process.stderr.write(
      `${options.label}, seed ${seed}: received ${received}, drops ${JSON.stringify(drops)}, ata errors ${exportStats.counters.ataErrors}, aoe errors ${exportStats.counters.aoeErrors}\n`,
    );

    // The target still serves a correct read and write.
    const device = await link().openDevice();
    assert.equal(device.sizeBytes, HOSTILE_DISK_BYTES, `seed ${seed}`);
    const data = pattern(MiB, seed);
    await link().run(device.write(data, MiB));
    const back = Buffer.alloc(MiB);
    await link().run(device.read(back, MiB));
    assert.ok(back.equals(data), `seed ${seed}: read-back after the fuzz`);
    assert.ok(link().diskBytes(MiB, MiB).equals(data), `seed ${seed}: on the disk`);
  });
}
