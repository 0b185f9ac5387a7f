/**
 * The native fast path against TypeScript on mutated READ frames, and on mutated WRITE frames
 * (with copies of earlier ones), over real AF_PACKET sockets on veth: the same seeded frames go
 * to a target with the fast path on and to one with it off, and every reply (or its absence),
 * the disk, and every counter but the fast path's own must be the same. The
 * mutations hit the bytes the C code decides on (addresses, version and flags, error byte, ATA
 * arguments, the length); the command and tag bytes stay, so each frame stays an ATA request with
 * a tag of its own (an edited MAC mask would make the outcome depend on when its save finishes).
 * FAST_PATH_FUZZ_SEED picks other frames (default 13).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { createLogger } from "../../foundation/log.js";
import { createAoeBench, macOf, openAoeSocket, startTarget } from "../../../test/lab/aoe-lab.js";
import { makeBackingFile, type AoeBench } from "../../../test/lab/aoe-lab.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import {
  AFLAG_LBA48,
  AFLAG_WRITE,
  AOE_VER_FLAGS,
  AtaCommand,
  macToString,
  SECTOR_BYTES,
} from "../codec/index.js";
import { RequestFrames, tagOf, waitForReply } from "../testing/request-frames.js";

const REPLY_DEADLINE_MS = 60_000;
const DISK_SECTORS = 64;
const FRAMES = 800;
/** Frames per burst, each followed by a fence. Small: once a frame of an export goes to
 * TypeScript, the export's later frames of the batch follow it without the C checks; and far
 * below the admission limit (2 x buffer count) TypeScript applies to reads in flight. */
const BURST = 4;
const OTHER = Buffer.from([0x02, 0, 0, 0, 0x0e, 0x01]);

/** A small deterministic generator (mulberry32), so both targets get the same frames. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let link: AoeBench;
let raw: RawSocket;
let requests: RequestFrames;
let content: Buffer;
/** The write fuzz's disk, on tmpfs: ext4 refuses RWF_NOWAIT writes, which then stay in TS. */
let shm: string;
let shmDisk: string;
const replies = new Map<number, Buffer>();

before(async () => {
  link = await createAoeBench("fpfuzz", { diskBytes: DISK_SECTORS * SECTOR_BYTES });
  content = Buffer.alloc(DISK_SECTORS * SECTOR_BYTES);
  for (let i = 0; i < content.length; i++) content[i] = (i * 31 + (i >> 9)) & 0xff;
  shm = fs.mkdtempSync(path.join("/dev/shm", "ep-fpfuzz-"));
  shmDisk = makeBackingFile(shm, "disk.img", DISK_SECTORS * SECTOR_BYTES);
  raw = openAoeSocket(link.initiatorNs, "ini0");
  const dst = await macOf(link.targetNs, "tgt0");
  // Tags: the stream's are 0x20000 + its index, the fences' from 0x30000.
  requests = new RequestFrames({ dst, src: raw.mac, shelf: 3, firstTag: 0x30000 });
  raw.onFrames((frames) => {
    for (const frame of frames)
      if (((frame[AOE_VER_FLAGS] as number) & 0x08) !== 0)
        replies.set(tagOf(frame), Buffer.from(frame));
  });
});

after(async () => {
  raw?.close();
  await link?.close();
  if (shm) fs.rmSync(shm, { recursive: true, force: true });
});

/** The seeded frames: reads of 3.0-3.2, half of them with 1 to 3 bytes or the length mutated. */
function frames(seed: number): Buffer[] {
  const next = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T;
  const out: Buffer[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const count = pick([1, 1, 2, 2, 3, 0]);
    // In the order the stream draws them (FAST_PATH_FUZZ_SEED names a stream).
    const header = {
      src: next() < 0.8 ? raw.mac : OTHER,
      slot: pick([0, 0, 1, 2]),
      tag: 0x20000 + i,
    };
    const ata = {
      aflags: pick([AFLAG_LBA48, 0, AFLAG_LBA48, AFLAG_LBA48 | AFLAG_WRITE]),
      cmdStatus: pick([AtaCommand.readSectorsExt, AtaCommand.readSectors]),
      lba: pick([0, 5, DISK_SECTORS - 2, DISK_SECTORS - 1, DISK_SECTORS, 0xe0000003]),
    };
    let frame = requests.read(ata.lba, count, header, ata);
    const mutations = next() < 0.5 ? 0 : 1 + Math.floor(next() * 3);
    for (let m = 0; m < mutations; m++) {
      // Bytes 0-19 and 24-35: addresses, ethertype excluded (the socket would not see it).
      const at = pick([0, 5, 6, 11, 14, 14, 15, 16, 17, 18, 24, 25, 26, 26, 27, 27, 28, 33, 34]);
      frame[at] = pick([0, 1, 2, 0x10, 0x14, 0x18, 0x20, 0x24, 0x30, 0x40, 0xe0, 0xec, 0xff]);
    }
    if (next() < 0.1) frame = frame.subarray(0, 14 + Math.floor(next() * 40));
    out.push(frame);
  }
  return out;
}

/**
 * The seeded write frames: writes of 1-2 sectors to 3.0-3.2, half of them mutated as the reads
 * are (but never into a READ, whose data would depend on how TypeScript orders the reads and
 * writes of one batch), and one in ten a copy of a frame of an earlier burst.
 */
function writeFrames(seed: number): Buffer[] {
  const next = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T;
  const out: Buffer[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const older = out.length - BURST - (i % BURST);
    if (older > 0 && next() < 0.1) {
      out.push(out[Math.floor(next() * older)] as Buffer);
      continue;
    }
    const sectors = pick([1, 1, 2]);
    const data = Buffer.alloc(sectors * SECTOR_BYTES, (i * 7 + 1) & 0xff);
    const header = {
      src: next() < 0.8 ? raw.mac : OTHER,
      slot: pick([0, 0, 1, 2]),
      tag: 0x50000 + i,
    };
    const lba = pick([0, 5, 6, DISK_SECTORS - 2, DISK_SECTORS - 1, DISK_SECTORS, 0xe0000003]);
    const aflags = pick([AFLAG_LBA48 | AFLAG_WRITE, AFLAG_WRITE, AFLAG_LBA48]);
    let frame = requests.write(lba, data, header, aflags);
    if (next() < 0.3) frame[27] = AtaCommand.writeSectors;
    const mutations = next() < 0.5 ? 0 : 1 + Math.floor(next() * 3);
    for (let m = 0; m < mutations; m++) {
      const at = pick([0, 5, 6, 11, 14, 14, 15, 16, 17, 18, 24, 25, 26, 26, 27, 27, 28, 33, 34]);
      frame[at] = pick([0, 1, 2, 3, 0x10, 0x14, 0x18, 0x30, 0x34, 0x40, 0xe0, 0xec, 0xff]);
    }
    if (next() < 0.1) frame = frame.subarray(0, 14 + Math.floor(next() * 600));
    out.push(frame);
  }
  return out;
}

const fuzzSeed = () => Number(process.env["FAST_PATH_FUZZ_SEED"] ?? 13);

/** A target on `disk` (first reset to `content`: the fences write) with the four exports. */
function fuzzTarget(disk: string, stateName: string, fastPath: boolean) {
  fs.writeFileSync(disk, content);
  return startTarget(
    link.targetNs,
    {
      stateDir: `${link.dir}/${stateName}`,
      interfaces: ["tgt0"],
      exports: [
        { address: "3.0", path: disk },
        { address: "3.1", path: disk, macMask: [macToString(raw.mac)] },
        { address: "3.2", path: disk, reservation: [macToString(OTHER)] },
        // Durable: the fences' writes stay in TypeScript, whose replies leave after the burst's.
        { address: "3.3", path: disk, durable: true },
      ],
    },
    { log: createLogger("test:aoe:fast-path-fuzz"), fastPath },
  );
}

/**
 * Sends `all` in bursts, each followed by a write through TypeScript whose reply comes after
 * theirs; returns each frame's reply (hex, or "-"), by index (their tags are `tagBase + i`).
 */
async function sendInBursts(all: Buffer[], tagBase: number): Promise<Record<number, string>> {
  for (let first = 0; first < all.length; first += BURST) {
    const fence = requests.write(DISK_SECTORS - 1, 0x33, { slot: 3 });
    raw.send([...all.slice(first, first + BURST), fence]);
    await waitForReply(
      (tag) => replies.has(tag),
      tagOf(fence),
      `the fence after frame ${first}`,
      REPLY_DEADLINE_MS,
    );
    replies.delete(tagOf(fence));
  }
  const seen: Record<number, string> = {};
  for (let i = 0; i < FRAMES; i++) {
    const reply = replies.get(tagBase + i);
    seen[i] = reply ? reply.toString("hex") : "-";
    replies.delete(tagBase + i);
  }
  return seen;
}

async function outcomes(fastPath: boolean) {
  const target = await fuzzTarget(link.disk, `state-${fastPath ? "on" : "off"}`, fastPath);
  try {
    const seen = await sendInBursts(frames(fuzzSeed()), 0x20000);
    const stats = target.stats();
    const exports = stats.exports.map((e) => {
      const { fastPathReads, ioCalls, inFlightMax, ...rest } = e.counters;
      return { address: e.address, fastPathReads, rest, ioCalls, inFlightMax };
    });
    return { seen, drops: stats.drops, framesIn: stats.framesIn, exports };
  } finally {
    await target.stop();
  }
}

async function writeOutcomes(fastPath: boolean) {
  const target = await fuzzTarget(shmDisk, `state-w${fastPath ? "on" : "off"}`, fastPath);
  try {
    const seen = await sendInBursts(writeFrames(fuzzSeed()), 0x50000);
    const stats = target.stats();
    // writesOrdered: TypeScript counts overlapping writes of one batch that C runs one by one.
    const exports = stats.exports.map((e) => {
      const { fastPathReads, fastPathWrites, ioCalls, inFlightMax, writesOrdered, ...rest } =
        e.counters;
      return { fastPathReads, fastPathWrites, rest, ioCalls, inFlightMax, writesOrdered };
    });
    const disk = fs.readFileSync(shmDisk).toString("hex");
    return { seen, drops: stats.drops, framesIn: stats.framesIn, exports, disk };
  } finally {
    await target.stop();
  }
}

test("mutated reads: the same replies and counters with the fast path on and off", async () => {
  const on = await outcomes(true);
  const off = await outcomes(false);
  const answered = Object.values(on.seen).filter((r) => r !== "-").length;
  const native = on.exports.reduce((sum, e) => sum + e.fastPathReads, 0);
  assert.ok(native > 60, `the fast path answered ${native} of the frames`);
  assert.ok(answered > native, "TypeScript answered others (errors, refusals)");
  assert.equal(
    off.exports.reduce((sum, e) => sum + e.fastPathReads, 0),
    0,
  );
  for (let i = 0; i < FRAMES; i++) assert.equal(on.seen[i], off.seen[i], `frame ${i}`);
  assert.deepEqual(on.drops, off.drops);
  assert.equal(on.framesIn, off.framesIn);
  assert.deepEqual(
    on.exports.map((e) => e.rest),
    off.exports.map((e) => e.rest),
  );
});

test("mutated writes and copies: the same replies, disk and counters with it on and off", async () => {
  const on = await writeOutcomes(true);
  const off = await writeOutcomes(false);
  const native = on.exports.reduce((sum, e) => sum + e.fastPathWrites, 0);
  const copies = on.exports.reduce((sum, e) => sum + e.rest.writeCopiesAcknowledged, 0);
  assert.ok(native > 60, `the fast path wrote ${native} of the frames`);
  assert.ok(copies > 10, `${copies} copies acknowledged without writing`);
  assert.equal(
    off.exports.reduce((sum, e) => sum + e.fastPathWrites, 0),
    0,
  );
  for (let i = 0; i < FRAMES; i++) assert.equal(on.seen[i], off.seen[i], `frame ${i}`);
  assert.ok(on.disk === off.disk, "the same disk");
  assert.deepEqual(on.drops, off.drops);
  assert.equal(on.framesIn, off.framesIn);
  assert.deepEqual(
    on.exports.map((e) => e.rest),
    off.exports.map((e) => e.rest),
  );
});
