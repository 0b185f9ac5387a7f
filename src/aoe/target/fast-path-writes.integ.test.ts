/**
 * Native WRITEs in the fast path (native/af_packet/fast-write.c, fast-path.c) over real AF_PACKET
 * sockets on a veth pair between two namespaces, with the backing file on tmpfs (/dev/shm: no
 * RWF_NOWAIT needed; ext4 refuses it for buffered writes, so writes there stay in TypeScript):
 *   - plain writes are executed in C (their counter grows) and read back; the replies, the file
 *     and every other counter are the same with the fast path on and off;
 *   - every write TypeScript refuses is refused the same way with the fast path on;
 *   - the write order holds across the two paths: a write arriving while TypeScript holds an
 *     overlapping one waits for it, and a late copy of an old write, whichever path completed
 *     the original, is acknowledged without overwriting newer data;
 *   - durable exports keep their writes in TypeScript, replying after the flush.
 * A write is steered to TypeScript by sending it to the Ethernet broadcast address (the fast
 * path takes only frames to its own MAC; TypeScript executes a unicast shelf.slot however the
 * frame was addressed). Waits are for replies or counters, with generous deadlines.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../foundation/log.js";
import { openFileBlockDevice } from "../../block/file/file-block-device.js";
import type { VectoredBlockDevice } from "../../block/block-device.js";
import { createAoeBench, macOf, openAoeSocket, startTarget } from "../../../test/lab/aoe-lab.js";
import { makeBackingFile, type AoeBench } from "../../../test/lab/aoe-lab.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import {
  AFLAG_LBA48,
  AOE_VER_FLAGS,
  ATA_DATA,
  AtaCommand,
  macToString,
  SECTOR_BYTES,
  type HeaderFields,
} from "../codec/index.js";
import { RequestFrames, tagOf, vlanTagged, waitForReply } from "../testing/request-frames.js";
import type { AoeTarget, TargetDeps } from "./aoe-target.js";
import type { ExportCounters } from "./counters.js";

const DEADLINE_MS = 60_000;
const DISK_SECTORS = 256;
const BROADCAST = Buffer.alloc(6, 0xff);
const OTHER = Buffer.from([0x02, 0, 0, 0, 0x0d, 0x02]);
/** A durable export on the same file: writes through TypeScript, replies after earlier ones. */
const FENCE_SLOT = 7;

/** Waits until `condition()` holds, polling; throws naming `what` after DEADLINE_MS. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A gate that holds TypeScript's writes or flushes until opened (the fake beside the file). */
class Gate {
  private waiters: Array<() => void> = [];
  open = true;
  held = 0;

  pass(): Promise<void> {
    if (this.open) return Promise.resolve();
    this.held++;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    this.open = true;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

/** The real file device, its TypeScript writes (or flushes) passing `gate` first. */
function gated(
  device: VectoredBlockDevice,
  gate: Gate,
  what: "writes" | "flushes",
): VectoredBlockDevice {
  return {
    sizeBytes: device.sizeBytes,
    readOnly: device.readOnly,
    read: (buffer, offset) => device.read(buffer, offset),
    readv: (buffers, offset) => device.readv(buffers, offset),
    write: (buffer, offset) => device.write(buffer, offset),
    writev: async (buffers, offset) => {
      if (what === "writes") await gate.pass();
      return device.writev(buffers, offset);
    },
    flush: async () => {
      if (what === "flushes") await gate.pass();
      return device.flush();
    },
    close: () => device.close(),
    nativeFile: () => device.nativeFile?.(),
  };
}

describe("native writes in the fast path over AF_PACKET on veth", () => {
  let link: AoeBench;
  let shm: string;
  let disk: string;
  let raw: RawSocket;
  let requests: RequestFrames;
  let targetMac: Buffer;
  let stateDirs = 0;
  const replies = new Map<number, Buffer>();

  const to = (slot: number, over: Partial<HeaderFields> = {}) => ({ shelf: 4, slot, ...over });
  const write = (slot: number, lba: number, data: number | Buffer, over = {}, aflags?: number) =>
    requests.write(lba, data, to(slot, over), aflags);
  const waitFor = (frame: Buffer, what: string) =>
    waitForReply((t) => replies.has(t), tagOf(frame), what, DEADLINE_MS);
  const sector = (lba: number) =>
    fs.readFileSync(disk).subarray(lba * SECTOR_BYTES, (lba + 1) * SECTOR_BYTES);
  const filled = (lba: number, byte: number) => sector(lba).every((b) => b === byte);
  const counters = (target: AoeTarget, address: string) =>
    target.stats().exports.find((e) => e.address === address)?.counters as ExportCounters;

  /** Sends `frames`, then a write to the durable fence export, and waits for the fence's reply. */
  const sendThenFence = async (frames: Buffer[]) => {
    const fence = write(FENCE_SLOT, DISK_SECTORS - 1, 0x01);
    raw.send([...frames, fence]);
    await waitFor(fence, "the fence write");
  };

  const serve = (fastPath: boolean, exports: unknown[], deps: Partial<TargetDeps> = {}) =>
    startTarget(
      link.targetNs,
      {
        stateDir: `${link.dir}/state-${stateDirs++}`,
        interfaces: ["tgt0"],
        exports: [...exports, { address: `4.${FENCE_SLOT}`, path: disk, durable: true }],
      },
      { log: createLogger("test:aoe:fast-path-writes"), fastPath, ...deps },
    );

  before(async () => {
    link = await createAoeBench("fpwrite", { diskBytes: SECTOR_BYTES });
    shm = fs.mkdtempSync(path.join("/dev/shm", "ep-fpwrite-"));
    disk = makeBackingFile(shm, "disk.img", DISK_SECTORS * SECTOR_BYTES);
    raw = openAoeSocket(link.initiatorNs, "ini0");
    targetMac = await macOf(link.targetNs, "tgt0");
    requests = new RequestFrames({ dst: targetMac, src: raw.mac, shelf: 4, firstTag: 0x40000 });
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

  /** Plain writes and refusals, against a target with the fast path on or off. */
  async function runCases(fastPath: boolean) {
    fs.writeFileSync(disk, Buffer.alloc(DISK_SECTORS * SECTOR_BYTES, 0xee));
    const target = await serve(fastPath, [
      { address: "4.0", path: disk },
      { address: "4.1", path: disk, macMask: [macToString(raw.mac)] },
      { address: "4.2", path: disk, reservation: [macToString(OTHER)] },
      { address: "4.3", path: disk, readOnly: true },
    ]);
    try {
      const twoSectors = Buffer.alloc(2 * SECTOR_BYTES, 0x22);
      twoSectors.fill(0x23, SECTOR_BYTES);
      const lba28 = requests.write(0, 0x28, to(0));
      lba28[27] = AtaCommand.writeSectors; // WRITE SECTORS; the LBA's top byte the 0xE0 device
      lba28[33] = 0xe0;
      lba28[24] = 0x01; // W only (no LBA48 flag)
      lba28.writeUIntLE(0xe0000000 + 12, 28, 4);
      const shortData = write(0, 30, Buffer.alloc(2 * SECTOR_BYTES, 0x30)).subarray(
        0,
        ATA_DATA + SECTOR_BYTES,
      );
      const cases: Array<[string, Buffer]> = [
        ["write ext, 1 sector", write(0, 5, 0x05)],
        ["write ext, 2 sectors", write(0, 6, twoSectors)],
        // Adjacent: one pwritev when they share a batch.
        ["write, adjacent 1", write(0, 8, 0x08)],
        ["write, adjacent 2", write(0, 9, 0x09)],
        ["write lba28 with the 0xE0 device byte", lba28],
        ["write to the last sector", write(0, DISK_SECTORS - 2, 0xfe)],
        ["write from a MAC on the mask list", write(1, 14, 0x14)],
        ["write from a MAC not on the mask list", write(1, 15, 0x15, { src: OTHER })],
        ["write by the reservation holder", write(2, 16, 0x16, { src: OTHER })],
        ["write to an export reserved by another", write(2, 17, 0x17)],
        ["write to a read-only export", write(3, 18, 0x18)],
        ["write past the end", write(0, DISK_SECTORS - 1, Buffer.alloc(2 * SECTOR_BYTES, 0x19))],
        ["write far past the end", write(0, 2 ** 47, 0x1a)],
        ["write without the W flag", write(0, 19, 0x1b, {}, AFLAG_LBA48)],
        ["write with less data than its count", shortData],
        ["write with the E flag", write(0, 21, 0x1d, { flags: 0x04 })],
        ["write with a reserved flag bit", write(0, 22, 0x1e, { flags: 0x01 })],
        ["write with an error byte", write(0, 23, 0x1f, { error: 2 })],
        ["write for another station", write(0, 24, 0x20, { dst: OTHER })],
        [
          "write from a multicast source",
          write(0, 25, 0x21, { src: Buffer.from([3, 0, 0, 0, 0, 1]) }),
        ],
        ["write to an unknown slot", write(9, 26, 0x22)],
      ];
      const zero = write(0, 27, 0x23);
      zero[26] = 0; // a count of zero sectors
      cases.push(["write of zero sectors", zero]);
      const tagged = write(0, 28, 0x24);
      // One frame at a time, so that a refusal does not take the writes after it to TypeScript.
      for (const [, frame] of cases) await sendThenFence([frame]);
      await sendThenFence([vlanTagged(tagged, 100)]);
      const outcomes: Record<string, string> = {};
      for (const [name, frame] of cases)
        outcomes[name] = replies.get(tagOf(frame))?.toString("hex") ?? "-";
      outcomes["tagged write"] = replies.get(tagOf(tagged))?.toString("hex") ?? "-";
      const stats = target.stats();
      const comparable = stats.exports.map((e) => {
        const { fastPathWrites, fastPathReads, ioCalls, inFlightMax, ...rest } = e.counters;
        return { address: e.address, fastPathWrites, fastPathReads, rest, ioCalls, inFlightMax };
      });
      return {
        outcomes,
        file: fs.readFileSync(disk).toString("hex"),
        drops: stats.drops,
        framesIn: stats.framesIn,
        comparable,
      };
    } finally {
      await target.stop();
    }
  }

  test("plain writes run natively and read back; refusals as with the fast path off", async () => {
    // Tags differ between the runs; the replies are compared without them.
    const on = await runCases(true);
    const off = await runCases(false);
    const byAddress = (run: typeof on, address: string) =>
      run.comparable.find((e) => e.address === address) as (typeof on.comparable)[number];
    assert.equal(byAddress(on, "4.0").fastPathWrites, 6, "the plain writes of 4.0 ran natively");
    assert.equal(byAddress(on, "4.1").fastPathWrites, 1, "the listed MAC's write of 4.1");
    assert.equal(byAddress(on, "4.2").fastPathWrites, 1, "the holder's write of 4.2");
    assert.equal(byAddress(on, "4.3").fastPathWrites, 0, "none to the read-only export");
    assert.equal(byAddress(on, `4.${FENCE_SLOT}`).fastPathWrites, 0, "none to the durable one");
    for (const e of off.comparable) assert.equal(e.fastPathWrites, 0, "none with it off");
    // The data is where it was written, with the fast path on (the file of the "on" run).
    const onFile = Buffer.from(on.file, "hex");
    const at = (lba: number) => onFile.subarray(lba * SECTOR_BYTES, (lba + 1) * SECTOR_BYTES);
    for (const [lba, byte] of [
      [5, 0x05],
      [6, 0x22],
      [7, 0x23],
      [8, 0x08],
      [9, 0x09],
      [12, 0x28],
      [DISK_SECTORS - 2, 0xfe],
      [14, 0x14],
      [16, 0x16],
    ] as const)
      assert.ok(
        at(lba).every((b) => b === byte),
        `sector ${lba}`,
      );
    for (const lba of [15, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 30])
      assert.ok(
        at(lba).every((b) => b === 0xee),
        `sector ${lba} untouched`,
      );
    // Replies byte for byte but the tag (each run has its own), file, drops and counters alike.
    const untagged = (hex: string) => (hex === "-" ? hex : hex.slice(0, 40) + hex.slice(48));
    for (const name of Object.keys(off.outcomes))
      assert.equal(
        untagged(on.outcomes[name] as string),
        untagged(off.outcomes[name] as string),
        name,
      );
    assert.equal(on.outcomes["write ext, 1 sector"]?.length, 60 * 2, "a reply of 60 bytes");
    assert.equal(on.outcomes["write from a MAC not on the mask list"], "-");
    assert.equal(on.outcomes["tagged write"], "-");
    assert.equal(on.file, off.file);
    assert.deepEqual(on.drops, off.drops);
    assert.equal(on.framesIn, off.framesIn);
    assert.deepEqual(
      on.comparable.map((e) => e.rest),
      off.comparable.map((e) => e.rest),
    );
  });

  test("a write arriving while TypeScript holds an overlapping one waits for it", async () => {
    fs.writeFileSync(disk, Buffer.alloc(DISK_SECTORS * SECTOR_BYTES, 0));
    const gate = new Gate();
    const target = await serve(true, [{ address: "4.0", path: disk }], {
      openDevice: async (file, options) =>
        gated(await openFileBlockDevice(file, options), gate, "writes"),
    });
    try {
      const e40 = () => counters(target, "4.0");
      gate.open = false;
      // The first write goes to TypeScript (broadcast), whose I/O the gate holds.
      const first = write(0, 40, 0xa1, { dst: BROADCAST });
      raw.send([first]);
      await until(() => gate.held === 1, "the first write held in TypeScript");
      // The second, to the same sector, would be native; it must wait for the first instead.
      const second = write(0, 40, 0xb2);
      raw.send([second]);
      await until(() => e40().writeRequests === 2, "the second write received by TypeScript");
      assert.equal(e40().fastPathWrites, 0, "not executed natively");
      assert.equal(e40().writesOrdered, 1, "it waits for the first");
      assert.equal(replies.has(tagOf(second)), false);
      gate.release();
      await waitFor(second, "the second write");
      await waitFor(first, "the first write");
      assert.ok(filled(40, 0xb2), "the later write is on the disk");
      // Once TypeScript holds nothing, the export's writes run natively again.
      const third = write(0, 41, 0xc3);
      raw.send([third]);
      await waitFor(third, "a write after both");
      assert.equal(e40().fastPathWrites, 1);
      assert.ok(filled(41, 0xc3));
    } finally {
      gate.release();
      await target.stop();
    }
  });

  test("a late copy of an old write never overwrites newer data, whichever path did either", async () => {
    fs.writeFileSync(disk, Buffer.alloc(DISK_SECTORS * SECTOR_BYTES, 0));
    const target = await serve(true, [{ address: "4.0", path: disk }]);
    try {
      const e40 = () => counters(target, "4.0");
      const ts = { dst: BROADCAST };
      const native = {};
      // [original, newer write, copy of the original]: which path each takes.
      const plans: Array<[string, object, object, object]> = [
        ["all native", native, native, native],
        ["original in TypeScript", ts, native, native],
        ["copy in TypeScript", native, native, ts],
        ["newer in TypeScript", native, ts, native],
        ["all in TypeScript", ts, ts, ts],
      ];
      let lba = 60;
      let copies = 0;
      for (const [name, originalVia, newerVia, copyVia] of plans) {
        const original = write(0, lba, 0x0a, originalVia);
        raw.send([original]);
        await waitFor(original, `${name}: the original`);
        const newer = write(0, lba, 0x0b, newerVia);
        raw.send([newer]);
        await waitFor(newer, `${name}: the newer write`);
        // The copy: the original's frame again (same tag, source, offset, length), addressed
        // as this plan says.
        const copy = Buffer.from(original);
        (copyVia === ts ? BROADCAST : targetMac).copy(copy, 0);
        replies.delete(tagOf(original));
        raw.send([copy]);
        await waitFor(copy, `${name}: the copy`);
        copies++;
        assert.ok(filled(lba, 0x0b), `${name}: the newer data stays`);
        assert.equal(e40().writeCopiesAcknowledged, copies, `${name}: acknowledged, not written`);
        lba++;
      }
      // All three in one send (likely one batch): the copy is caught after the batch's writes.
      const original = write(0, lba, 0x0a);
      const newer = write(0, lba, 0x0b);
      const copy = Buffer.from(original);
      raw.send([original, newer, copy]);
      await waitFor(newer, "one batch: the newer write");
      await until(() => e40().writeCopiesAcknowledged === copies + 1, "one batch: the copy");
      assert.ok(filled(lba, 0x0b), "one batch: the newer data stays");
      assert.ok(e40().fastPathWrites >= 5, `native writes: ${e40().fastPathWrites}`);
    } finally {
      await target.stop();
    }
  });

  test("a read answered from the mapping carries the data from before a later write in its batch", async () => {
    // The addon answers a tmpfs file's reads from its mapping: the data is copied when the reply
    // is sent, so it sends the replies queued so far before it executes a later write.
    fs.writeFileSync(disk, Buffer.alloc(DISK_SECTORS * SECTOR_BYTES, 0x11));
    const target = await serve(true, [{ address: "4.0", path: disk }]);
    try {
      const e40 = () => counters(target, "4.0");
      const read = (lba: number) => requests.read(lba, 2, to(0));
      const data = (frame: Buffer) =>
        (replies.get(tagOf(frame)) as Buffer).subarray(ATA_DATA, ATA_DATA + 2 * SECTOR_BYTES);
      for (let round = 0; round < 8; round++) {
        const lba = 80 + 2 * round;
        const before = read(lba);
        const change = write(0, lba, Buffer.alloc(2 * SECTOR_BYTES, 0x70 + round));
        const afterwards = read(lba);
        raw.send([before, change, afterwards]); // one send: one batch at the target, as a rule
        await waitFor(afterwards, `round ${round}: the read after the write`);
        await waitFor(before, `round ${round}: the read before it`);
        assert.ok(
          data(before).every((b) => b === 0x11),
          `round ${round}: the old data`,
        );
        assert.ok(
          data(afterwards).every((b) => b === 0x70 + round),
          `round ${round}: the new`,
        );
      }
      assert.equal(e40().fastPathReads, 16, "every read answered natively");
      assert.equal(e40().fastPathWrites, 8, "every write executed natively");
    } finally {
      await target.stop();
    }
  });

  test("a durable export keeps its writes in TypeScript, replying after the flush", async () => {
    fs.writeFileSync(disk, Buffer.alloc(DISK_SECTORS * SECTOR_BYTES, 0));
    const gate = new Gate();
    const target = await serve(true, [{ address: "4.0", path: disk, durable: true }], {
      openDevice: async (file, options) =>
        gated(await openFileBlockDevice(file, options), gate, "flushes"),
    });
    try {
      const e40 = () => counters(target, "4.0");
      gate.open = false;
      const w = write(0, 50, 0x50);
      raw.send([w]);
      await until(() => gate.held >= 1, "the flush after the durable write");
      assert.equal(replies.has(tagOf(w)), false, "no reply before the flush is done");
      gate.release();
      await waitFor(w, "the durable write");
      assert.ok(filled(50, 0x50));
      assert.equal(e40().fastPathWrites, 0, "not executed natively");
      assert.equal(e40().writeRequests, 1);
    } finally {
      gate.release();
      await target.stop();
    }
  });
});
