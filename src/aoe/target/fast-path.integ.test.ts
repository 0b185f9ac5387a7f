/**
 * The native fast path (fast-path.ts, native/af_packet/fast-read.c) over real AF_PACKET sockets
 * on a veth pair between two namespaces: plain READs are answered in C (its counter grows, the
 * data is the file's), and every frame TypeScript refuses is refused the same way with the fast
 * path on as with it off (same replies, same counters). A MAC mask edit made while a removed
 * initiator keeps sending is honoured from the frame after its reply.
 * Each check waits for the reply to a valid write sent after the frames under test to a durable
 * export (FENCE: its writes always go through TypeScript, whose replies leave after those of
 * earlier frames), never for a fixed time. Native writes: fast-path-writes.integ.test.ts.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../foundation/log.js";
import { createAoeBench, macOf, openAoeSocket, startTarget } from "../../../test/lab/aoe-lab.js";
import { makeBackingFile, type AoeBench } from "../../../test/lab/aoe-lab.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import {
  AFLAG_WRITE,
  AOE_VER_FLAGS,
  AoeCommand,
  ATA_DATA,
  AtaCommand,
  DirectiveCommand,
  encodeMacMask,
  macToString,
  MaskCommand,
  SECTOR_BYTES,
  type AtaArgs,
  type HeaderFields,
} from "../codec/index.js";
import { RequestFrames, tagOf, vlanTagged, waitForReply } from "../testing/request-frames.js";
import type { ExportCounters } from "./counters.js";
import {
  encodeFastPathTable,
  FAST_PATH_COUNTERS_PER_EXPORT,
  FAST_PATH_ENTRY_BYTES,
  FAST_PATH_HEADER_BYTES,
} from "./fast-path-table.js";

const REPLY_DEADLINE_MS = 60_000;
const DISK_SECTORS = 256;
/** Forged initiator addresses (locally administered, unicast). */
const ADMITTED = Buffer.from([0x02, 0, 0, 0, 0x0f, 0x02]);
const STRANGER = Buffer.from([0x02, 0, 0, 0, 0x0f, 0x03]);
const REMOVED = Buffer.from([0x02, 0, 0, 0, 0x0f, 0x04]);
/** A durable export: its writes stay in TypeScript (a native one could overtake replies). */
const FENCE: [number, number] = [3, 7];
const FENCE_EXPORT = { address: "3.7", durable: true };

/** What came back for one request: enough to tell every refusal apart. */
interface Outcome {
  replied: boolean;
  verFlags?: number;
  error?: number;
  ataError?: number;
  status?: number;
  dataBytes?: number;
  dataMatches?: boolean;
}

describe("the native fast path over AF_PACKET on veth", () => {
  let link: AoeBench;
  let disk: string;
  /** A directory on tmpfs: a memory-backed file, whose reads the addon answers from its mapping. */
  let shm: string;
  let shmDisk: string;
  let raw: RawSocket;
  let requests: RequestFrames;
  const replies = new Map<number, Buffer>();

  const at = (shelfSlot: [number, number], over: Partial<HeaderFields>) => ({
    shelf: shelfSlot[0],
    slot: shelfSlot[1],
    ...over,
  });
  const read = (
    to: [number, number],
    lba: number,
    count: number,
    over: Partial<HeaderFields> = {},
    ata: Partial<AtaArgs> = {},
    dataBytes = 0,
  ) => requests.read(lba, count, at(to, over), ata, dataBytes);
  const write = (to: [number, number], lba: number, fill: number, src = raw.mac) =>
    requests.write(lba, fill, at(to, { src }));
  const waitFor = (tag: number, what: string) =>
    waitForReply((t) => replies.has(t), tag, what, REPLY_DEADLINE_MS);
  /** Sends `frames`, then a valid write (through TypeScript), and waits for that write's reply. */
  const sendThenFence = async (frames: Buffer[]) => {
    const fence = write(FENCE, DISK_SECTORS - 1, 0x01);
    raw.send([...frames, fence]);
    await waitFor(tagOf(fence), "the fence write");
  };
  const fileBytes = () => fs.readFileSync(disk);
  const outcome = (request: Buffer, lba: number): Outcome => {
    const reply = replies.get(tagOf(request));
    if (!reply) return { replied: false };
    const data = reply.subarray(ATA_DATA);
    const count = reply[26] as number;
    const expected = fileBytes().subarray(lba * SECTOR_BYTES, (lba + count) * SECTOR_BYTES);
    return {
      replied: true,
      verFlags: reply[AOE_VER_FLAGS],
      error: reply[15],
      ataError: reply[25],
      status: reply[27],
      dataBytes: Math.max(0, reply.length - ATA_DATA),
      dataMatches: data.subarray(0, expected.length).equals(expected),
    };
  };

  const startFastPath = (fastPath: boolean, stateDir: string, exports: unknown[]) =>
    startTarget(
      link.targetNs,
      { stateDir, interfaces: ["tgt0"], exports },
      { log: createLogger("test:aoe:fast-path"), fastPath },
    );

  before(async () => {
    link = await createAoeBench("fastpath", { diskBytes: DISK_SECTORS * SECTOR_BYTES });
    disk = link.disk;
    const content = Buffer.alloc(DISK_SECTORS * SECTOR_BYTES);
    for (let i = 0; i < content.length; i += 4)
      content.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, i);
    fs.writeFileSync(disk, content);
    shm = fs.mkdtempSync(path.join("/dev/shm", "ep-fastpath-"));
    shmDisk = path.join(shm, "disk.img");
    fs.writeFileSync(shmDisk, content);
    raw = openAoeSocket(link.initiatorNs, "ini0");
    const dst = await macOf(link.targetNs, "tgt0");
    requests = new RequestFrames({ dst, src: raw.mac, shelf: 3, firstTag: 0x10000 });
    raw.onFrames((frames) => {
      // Responses only (our own frames never come back: PACKET_IGNORE_OUTGOING).
      for (const frame of frames)
        if (((frame[AOE_VER_FLAGS] as number) & 0x08) !== 0) replies.set(tagOf(frame), frame);
    });
  });

  after(async () => {
    raw?.close();
    await link?.close();
    if (shm) fs.rmSync(shm, { recursive: true, force: true });
  });

  let stateDirs = 0;
  /** Every case, run against a target with the fast path on or off, 3.0 and 3.1 on `file`. */
  async function runCases(fastPath: boolean, file: string) {
    const stateDir = `${link.dir}/state-${fastPath ? "on" : "off"}-${stateDirs++}`;
    const target = await startFastPath(fastPath, stateDir, [
      { address: "3.0", path: file, macMask: [macToString(raw.mac), macToString(ADMITTED)] },
      { address: "3.1", path: file, reservation: [macToString(ADMITTED)] },
      { ...FENCE_EXPORT, path: disk },
    ]);
    try {
      const cases: Array<[string, Buffer, number]> = [
        ["read ext, 2 sectors", read([3, 0], 5, 2), 5],
        ["read ext, 1 sector at the end", read([3, 0], DISK_SECTORS - 2, 1), DISK_SECTORS - 2],
        [
          "read lba28 with the 0xE0 device byte",
          read([3, 0], 0xe0000007, 2, {}, { aflags: 0, cmdStatus: AtaCommand.readSectors }),
          7,
        ],
        ["read from an admitted forged MAC", read([3, 0], 9, 1, { src: ADMITTED }), 9],
        ["read from a MAC not on the mask list", read([3, 0], 9, 1, { src: STRANGER }), 9],
        // The holder's first: a frame of 3.1 that goes to TypeScript takes the export's later
        // frames of the batch with it (arrival order kept), and would take this one too.
        ["read by the reservation holder", read([3, 1], 11, 2, { src: ADMITTED }), 11],
        ["read of an export reserved by another", read([3, 1], 9, 1), 9],
        ["read past the end", read([3, 0], DISK_SECTORS - 1, 2), DISK_SECTORS - 1],
        ["read far past the end", read([3, 0], 2 ** 47, 1), 0],
        ["read with the W flag", read([3, 0], 3, 1, {}, { aflags: AFLAG_WRITE }, SECTOR_BYTES), 3],
        ["read of more sectors than the MTU carries", read([3, 0], 3, 3), 3],
        ["read of zero sectors", read([3, 0], 3, 0), 3],
        ["read with the E flag", read([3, 0], 3, 1, { flags: 0x04 }), 3],
        ["read with a reserved flag bit", read([3, 0], 3, 1, { flags: 0x01 }), 3],
        ["read with an error byte", read([3, 0], 3, 1, { error: 2 }), 3],
        ["read flagged as a response", read([3, 0], 3, 1, { flags: 0x08 }), 3],
        ["read to a broadcast slot", read([3, 0xff], 3, 1), 3],
        ["read to an unknown slot", read([3, 9], 3, 1), 3],
        ["read for another station", read([3, 0], 3, 1, { dst: STRANGER }), 3],
        [
          "read from a multicast source",
          read([3, 0], 3, 1, { src: Buffer.from([3, 0, 0, 0, 0, 1]) }),
          3,
        ],
      ];
      const vlanRead = read([3, 0], 4, 1);
      const truncated = read([3, 0], 4, 1).subarray(0, 30);
      const versionTwo = read([3, 0], 4, 1);
      versionTwo[AOE_VER_FLAGS] = 0x20;
      await sendThenFence([
        ...cases.map(([, frame]) => frame),
        vlanTagged(vlanRead, 100),
        truncated,
        versionTwo,
      ]);
      const outcomes: Record<string, Outcome> = {};
      for (const [name, frame, lba] of cases) outcomes[name] = outcome(frame, lba);
      outcomes["tagged read"] = outcome(vlanRead, 4);
      outcomes["version 2"] = outcome(versionTwo, 4);
      const stats = target.stats();
      const counters = (address: string) => {
        const c = stats.exports.find((e) => e.address === address)?.counters as ExportCounters;
        // ioCalls: TypeScript merges adjacent reads of a batch into one call; C reads per frame.
        const { fastPathReads, fastPathWrites, ioCalls, inFlightMax, ...rest } = c;
        assert.equal(fastPathWrites, 0, "no write to 3.0 or 3.1");
        return { fastPathReads, comparable: rest, ioCalls, inFlightMax };
      };
      return {
        outcomes,
        drops: stats.drops,
        framesIn: stats.framesIn,
        e30: counters("3.0"),
        e31: counters("3.1"),
      };
    } finally {
      await target.stop();
    }
  }

  // On ext4 the addon reads with preadv2(RWF_NOWAIT); on tmpfs it answers from the file's
  // mapping (the reply's data copied by sendmmsg): both must answer as TypeScript does.
  for (const [storage, file] of [
    ["ext4", () => disk],
    ["tmpfs, from the mapping", () => shmDisk],
  ] as const)
    test(`plain reads are answered natively; everything else as with the fast path off (${storage})`, () =>
      comparePlainReads(file()));

  async function comparePlainReads(file: string) {
    const on = await runCases(true, file);
    const off = await runCases(false, file);
    const o = on.outcomes;
    // The fast path was taken for the four plain reads of 3.0 and the holder's read of 3.1 ...
    assert.equal(on.e30.fastPathReads, 4, "plain reads of 3.0 answered natively");
    assert.equal(on.e31.fastPathReads, 1, "the holder's read of 3.1 answered natively");
    assert.equal(off.e30.fastPathReads + off.e31.fastPathReads, 0, "none with the fast path off");
    // A native read calls preadv2 on ext4 (these five are not adjacent: one call each); on tmpfs
    // it makes no call, its reply's data comes from the mapping.
    const nativeReads = on.e30.fastPathReads + on.e31.fastPathReads;
    const readCalls = on.e30.ioCalls + on.e31.ioCalls;
    if (file === shmDisk) assert.ok(readCalls < nativeReads, `tmpfs: ${readCalls} read calls`);
    else assert.ok(readCalls >= nativeReads, `ext4: ${readCalls} read calls`);
    // ... with the file's data and a plain ATA reply.
    for (const name of [
      "read ext, 2 sectors",
      "read ext, 1 sector at the end",
      "read lba28 with the 0xE0 device byte",
      "read from an admitted forged MAC",
      "read by the reservation holder",
    ]) {
      assert.deepEqual(
        { ...o[name], dataBytes: undefined },
        {
          replied: true,
          verFlags: 0x18,
          error: 0,
          ataError: 0,
          status: 0x40,
          dataBytes: undefined,
          dataMatches: true,
        },
        name,
      );
    }
    assert.equal(o["read ext, 2 sectors"]?.dataBytes, 2 * SECTOR_BYTES);
    // Refusals, as TypeScript makes them.
    assert.equal(o["read from a MAC not on the mask list"]?.replied, false);
    assert.equal(o["read of an export reserved by another"]?.error, 6);
    assert.equal(o["read past the end"]?.ataError, 0x10, "IDNF");
    assert.equal(o["read with the W flag"]?.ataError, 0x04, "ABRT");
    assert.equal(o["read of more sectors than the MTU carries"]?.ataError, 0x04, "ABRT");
    assert.equal(o["read with the E flag"]?.error, 2);
    assert.equal(o["read for another station"]?.replied, false);
    assert.equal(o["tagged read"]?.replied, false);
    assert.equal(o["version 2"]?.error, 5);
    // Same outcome for every frame, same counters, with the fast path on and off.
    assert.deepEqual(on.outcomes, off.outcomes);
    assert.deepEqual(on.drops, off.drops);
    assert.equal(on.framesIn, off.framesIn);
    assert.deepEqual(on.e30.comparable, off.e30.comparable);
    assert.deepEqual(on.e31.comparable, off.e31.comparable);
  }

  test("a MAC mask edit is honoured from the frame after its reply, reads and writes alike", async () => {
    const stateDir = `${link.dir}/state-mask`;
    const target = await startFastPath(true, stateDir, [
      { address: "3.2", path: disk, macMask: [macToString(raw.mac), macToString(REMOVED)] },
    ]);
    try {
      // The removed initiator's reads are answered natively while it is on the list.
      const warm = read([3, 2], 1, 1, { src: REMOVED });
      raw.send([warm]);
      await waitFor(tagOf(warm), "a read from a listed MAC");
      const e32 = () => target.stats().exports[0]?.counters as ExportCounters;
      assert.equal(e32().fastPathReads, 1);

      // It keeps sending reads and writes while the list is edited; frames sent once the
      // edit's reply is here must not be executed (the link keeps their order).
      const fd = fs.openSync(disk, "r+");
      fs.writeSync(fd, Buffer.alloc(SECTOR_BYTES, 0), 0, SECTOR_BYTES, 20 * SECTOR_BYTES);
      fs.closeSync(fd);
      let edited = false;
      const afterEdit: number[] = [];
      let bursts = 0;
      let burstsAfterEdit = 0;
      const pump = async () => {
        while (burstsAfterEdit < 50) {
          const burst = [
            read([3, 2], 2, 1, { src: REMOVED }),
            read([3, 2], 3, 2, { src: REMOVED }),
            write([3, 2], edited ? 20 : 21, 0xbb, REMOVED),
          ];
          if (edited) {
            for (const frame of burst) afterEdit.push(tagOf(frame));
            burstsAfterEdit++;
          }
          raw.send(burst);
          bursts++;
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      const pumping = pump();
      while (bursts < 20) await new Promise((resolve) => setImmediate(resolve));
      const edit = encodeMacMask(requests.header(at([3, 2], { command: AoeCommand.macMask })), {
        mcmd: MaskCommand.edit,
        merror: 0,
        directives: [{ dcmd: DirectiveCommand.delete, mac: REMOVED }],
      });
      raw.send([edit]);
      await waitFor(tagOf(edit), "the mask edit");
      edited = true;
      await pumping;
      await sendThenFenceTo([3, 2]);
      const answered = afterEdit.filter((tag) => replies.has(tag));
      assert.deepEqual(answered, [], "no frame sent after the edit's reply was answered");
      assert.ok(
        fs
          .readFileSync(disk)
          .subarray(20 * SECTOR_BYTES, 21 * SECTOR_BYTES)
          .every((b) => b === 0),
        "no write sent after the edit's reply landed",
      );
      assert.ok(e32().fastPathReads >= 1);
      assert.ok((e32().drops.masked ?? 0) >= afterEdit.length, "the later frames were masked");
    } finally {
      await target.stop();
    }
  });

  for (const [storage, dir] of [
    ["ext4", () => link.dir],
    ["tmpfs, mapped", () => shm],
  ] as const)
    test(`a read the addon cannot finish (a file that shrank) goes to TypeScript, which answers (${storage})`, () =>
      shrinkUnderRead(dir()));

  async function shrinkUnderRead(dir: string) {
    const shrinking = makeBackingFile(dir, "shrinking.img", 64 * SECTOR_BYTES);
    fs.writeFileSync(shrinking, Buffer.alloc(64 * SECTOR_BYTES, 0x5a));
    const target = await startFastPath(true, `${link.dir}/state-shrink-${stateDirs++}`, [
      { address: "3.3", path: shrinking },
    ]);
    try {
      const e33 = () => target.stats().exports[0]?.counters as ExportCounters;
      const whole = read([3, 3], 60, 2);
      raw.send([whole]);
      await waitFor(tagOf(whole), "a read of the whole file");
      assert.equal(e33().fastPathReads, 1);
      // The export keeps its size; the file is now 32 sectors: preadv comes up short.
      fs.truncateSync(shrinking, 32 * SECTOR_BYTES);
      const beyond = read([3, 3], 60, 2);
      raw.send([beyond]);
      await waitFor(tagOf(beyond), "a read past the file's new end");
      const reply = replies.get(tagOf(beyond)) as Buffer;
      assert.equal(reply[27], 0x40, "answered with DRDY");
      assert.ok(
        reply.subarray(ATA_DATA, ATA_DATA + 2 * SECTOR_BYTES).every((b) => b === 0),
        "TypeScript zero-fills a read past the end of a file that shrank",
      );
      assert.equal(e33().fastPathReads, 1, "not answered natively");
      assert.equal(e33().readRequests, 2);
    } finally {
      await target.stop();
      fs.rmSync(shrinking, { force: true });
    }
  }

  test("the addon refuses a table that does not parse, and keeps the one it has", () => {
    const native = raw.fastPath;
    assert.ok(native, "the af_packet socket has a fast path");
    const good = encodeFastPathTable(raw.mac, 2, [
      { shelf: 1, slot: 0, fd: 0, sectors: 8, memoryBacked: true, admitted: [] },
      { shelf: 1, slot: 1, fd: 0, sectors: 8, memoryBacked: true, admitted: [] },
    ]);
    assert.deepEqual(native.setTable(good, []), [], "no table before");
    const unsorted = Buffer.from(good);
    good.copy(unsorted, FAST_PATH_HEADER_BYTES, FAST_PATH_HEADER_BYTES + FAST_PATH_ENTRY_BYTES);
    good.copy(unsorted, FAST_PATH_HEADER_BYTES + FAST_PATH_ENTRY_BYTES, FAST_PATH_HEADER_BYTES);
    const tooManyMacs = Buffer.from(good);
    tooManyMacs.writeUInt32LE(17, FAST_PATH_HEADER_BYTES + 16);
    for (const [name, bad] of [
      ["short", good.subarray(0, 10)],
      ["length", good.subarray(0, good.length - 1)],
      ["unsorted", unsorted],
      ["admitted count", tooManyMacs],
    ] as const) {
      assert.throws(() => native.setTable(bad, []), RangeError, name);
    }
    const zeros = new Array<number>(2 * FAST_PATH_COUNTERS_PER_EXPORT).fill(0);
    assert.deepEqual(native.takeCounters(), zeros, "the good table is still there");
    assert.deepEqual(native.setTable(null, []), zeros);
    assert.deepEqual(native.takeCounters(), []);
  });

  /** A fence through an export other than 3.0 (the mask test serves 3.2 only). */
  async function sendThenFenceTo(to: [number, number]) {
    const fence = write(to, DISK_SECTORS - 1, 0x01);
    raw.send([fence]);
    await waitFor(tagOf(fence), "the fence write");
  }
});
