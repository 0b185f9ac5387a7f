/**
 * Write ordering at a running target (write-order.ts), on the simulator with exact interleavings:
 *   - the fault the long simulation found (seed 842365858): the link delivers a copy of an
 *     acknowledged write after the initiator's next write to overlapping sectors; the copy must not
 *     overwrite the newer data;
 *   - two overlapping writes in flight at once, on a device that completes the newer first: the
 *     disk must end with the newer data.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AoeSim } from "../../../test/sim/aoe-sim.js";
import { simSeed } from "../../../test/sim/random.js";
import type { VectoredBlockDevice } from "../../block/block-device.js";
import { ATA_CMD_STATUS, AtaStatus, SECTOR_BYTES } from "../codec/index.js";
import { RequestFrames, tagOf } from "../testing/request-frames.js";

const DISK_BYTES = 64 * SECTOR_BYTES;

function setup(sim: AoeSim) {
  const raw = sim.socket("ini0");
  const replies: Buffer[] = [];
  raw.onFrames((frames) => replies.push(...frames));
  const requests = new RequestFrames({
    dst: sim.mac("tgt0"),
    src: raw.mac,
    shelf: 1,
    firstTag: 0x10,
  });
  const writeFrame = (lba: number, data: Buffer) => requests.write(lba, data);
  const repliesTo = (frame: Buffer) => replies.filter((r) => tagOf(r) === tagOf(frame));
  return { raw, writeFrame, repliesTo };
}

test("a late copy of an acknowledged write does not overwrite a newer write to the same sectors", async () => {
  const sim = new AoeSim({ seed: simSeed("write copies") });
  const disk = sim.disk("/sim/disk.img", DISK_BYTES);
  const target = await sim.startTarget({
    interfaces: ["tgt0"],
    exports: [{ address: "1.0", path: "/sim/disk.img" }],
  });
  const { raw, writeFrame, repliesTo } = setup(sim);
  // As in seed 842365858: A covers sectors 2-3 and is acknowledged; B covers sectors 3-4.
  const a = writeFrame(2, Buffer.alloc(1024, 0xaa));
  raw.send([a]);
  await sim.clock.advance(10);
  assert.equal(repliesTo(a).length, 1, "A acknowledged");
  const b = writeFrame(3, Buffer.alloc(1024, 0xbb));
  raw.send([b]);
  await sim.clock.advance(10);
  assert.equal(repliesTo(b).length, 1, "B acknowledged");
  // The link delivers its duplicate of A now.
  raw.send([a]);
  await sim.clock.advance(10);
  assert.ok(disk.bytes.subarray(2 * 512, 3 * 512).every((x) => x === 0xaa));
  assert.ok(
    disk.bytes.subarray(3 * 512, 5 * 512).every((x) => x === 0xbb),
    "B's data survives the late copy of A",
  );
  const again = repliesTo(a);
  assert.equal(again.length, 2, "the copy is acknowledged (the first reply may have been lost)");
  assert.equal(again[1]?.[ATA_CMD_STATUS], AtaStatus.drdy);
  const counters = target.stats().exports[0]?.counters;
  assert.equal(counters?.writeCopiesAcknowledged, 1);
  assert.equal(disk.writes, 2, "two writes reached the disk, not three");
  await sim.close();
});

test("overlapping writes in flight land in arrival order on a device that completes out of order", async () => {
  const sim = new AoeSim({ seed: simSeed("write order") });
  const disk = sim.disk("/sim/disk.img", DISK_BYTES);
  // Writes complete only when the test says, newest first (libuv's pool may do that).
  const pending: Array<() => void> = [];
  const gated: VectoredBlockDevice = {
    sizeBytes: disk.sizeBytes,
    readOnly: false,
    readv: (buffers, offset) => disk.readv(buffers, offset),
    writev: (buffers, offset) =>
      new Promise<void>((resolve, reject) =>
        pending.push(() => {
          disk.writev(buffers, offset).then(resolve, reject);
        }),
      ),
    read: (buffer, offset) => disk.read(buffer, offset),
    write: (buffer, offset) => disk.write(buffer, offset),
    flush: () => disk.flush(),
    close: () => disk.close(),
  };
  const target = await sim.startTarget(
    { interfaces: ["tgt0"], exports: [{ address: "1.0", path: "/sim/disk.img" }] },
    { openDevice: () => Promise.resolve(gated) },
  );
  const { raw, writeFrame, repliesTo } = setup(sim);
  const first = writeFrame(0, Buffer.alloc(1024, 0x11));
  const second = writeFrame(1, Buffer.alloc(1024, 0x22));
  const third = writeFrame(1, Buffer.alloc(512, 0x33)); // overlaps both: waits for both
  raw.send([first, second, third]);
  await sim.clock.advance(5);
  assert.equal(pending.length, 1, "only the first write was issued; the others wait for it");
  while (pending.length > 0) {
    pending.pop()?.();
    await sim.clock.advance(5);
  }
  assert.ok(disk.bytes.subarray(0, 512).every((x) => x === 0x11));
  assert.ok(
    disk.bytes.subarray(512, 1024).every((x) => x === 0x33),
    "the last write wins",
  );
  assert.ok(disk.bytes.subarray(1024, 1536).every((x) => x === 0x22));
  for (const frame of [first, second, third]) assert.equal(repliesTo(frame).length, 1);
  assert.equal(target.stats().exports[0]?.counters.writesOrdered, 2);
  await sim.close();
});
