/**
 * Retransmission on a lossy link, on the simulator: the segment drops, duplicates and reorders
 * frames each way (and delays them with jitter); our initiator still writes and reads a pattern
 * exactly, every retransmission carries a fresh tag, and the target's duplicate handling is
 * idempotent. A partition that heals before the deadline costs time, not data. Seeded: the seed
 * is printed and ETHERPLANE_SIM_SEED replays it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AoeSim } from "../../../test/sim/aoe-sim.js";
import { pattern } from "../../../test/sim/pattern.js";
import { simSeed } from "../../../test/sim/random.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import { AOE_TAG } from "../codec/index.js";

const MiB = 1024 * 1024;

test("10% loss, 5% duplication and reordering each way: exact data, fresh tags on every retransmission", async () => {
  const seed = simSeed("lossy link");
  const sim = new AoeSim({
    seed,
    faults: { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.05, delayMs: 0.2, jitterMs: 0.3 },
  });
  const disk = sim.disk("/sim/disk.img", 4 * MiB);
  await sim.startTarget({
    interfaces: ["tgt0"],
    exports: [{ address: "8.1", path: "/sim/disk.img" }],
  });
  const link = sim.link("ini0");
  const initiator = sim.initiator(["ini0"]);
  const sentTags: number[] = [];
  link.tap((frame, from) => {
    if (from.ifname === "ini0" && frame.length >= AOE_TAG + 4)
      sentTags.push(frame.readUInt32BE(AOE_TAG));
  });
  try {
    let device;
    for (let attempt = 0; !device; attempt++) {
      try {
        device = await sim.run(initiator.openDevice(8, 1, { listenMs: 300 }));
      } catch (error) {
        if (attempt > 10) throw error; // discovery frames can be lost too
      }
    }
    const data = pattern(512 * 1024, seed);
    await sim.run(device.write(data, MiB));
    const back = Buffer.alloc(data.length);
    await sim.run(device.read(back, MiB));
    assert.ok(back.equals(data), `seed ${seed}: read-back equals the pattern`);
    assert.ok(disk.bytes.subarray(MiB, MiB + data.length).equals(data), `seed ${seed}: disk`);
    const counters = initiator.engine.counters;
    assert.ok(link.counters.lost > 20, `seed ${seed}: frames were lost (${link.counters.lost})`);
    assert.ok(link.counters.duplicated > 0, `seed ${seed}: frames were duplicated`);
    assert.ok(link.counters.reordered > 0, `seed ${seed}: frames were reordered`);
    assert.ok(counters.retransmits > 0, `seed ${seed}: retransmissions (${counters.retransmits})`);
    // Tags: each frame the initiator sent carried a tag never used before (the tap sees sends,
    // not the link's duplicates).
    assert.equal(new Set(sentTags).size, sentTags.length, `seed ${seed}: no tag reused`);
    assert.ok(
      sentTags.every((tag) => tag >>> 31 === 1),
      "userland tags have the top bit set",
    );
  } finally {
    await sim.close();
  }
});

test("a partition that heals before the deadline delays I/O; one that does not fails it with TIMEOUT", async () => {
  const seed = simSeed("partition");
  const sim = new AoeSim({ seed });
  const disk = sim.disk("/sim/disk.img", MiB);
  await sim.startTarget({
    interfaces: ["tgt0"],
    exports: [{ address: "2.3", path: "/sim/disk.img" }],
  });
  const initiator = sim.initiator(["ini0"]);
  const link = sim.link("ini0");
  try {
    const device = await sim.run(initiator.openDevice(2, 3, { requestTimeoutMs: 5000 }));
    const split = () => link.partition([sim.opened("ini0")], [sim.opened("tgt0")]);
    const data = pattern(64 * 1024, seed);
    const startedMs = sim.clock.nowMs();
    const write = device.write(data, 0);
    split();
    sim.clock.setTimeout(() => link.heal(), 2000);
    await sim.run(write);
    assert.ok(sim.clock.nowMs() - startedMs >= 2000, "the write waited for the partition to heal");
    assert.ok(disk.bytes.subarray(0, data.length).equals(data), `seed ${seed}`);
    assert.ok(link.counters.partitioned > 0, "frames met the partition");
    split();
    const readStartedMs = sim.clock.nowMs();
    await assert.rejects(sim.run(device.read(Buffer.alloc(4096), 0)), (e) =>
      isEtherplaneError(e, "TIMEOUT"),
    );
    assert.ok(sim.clock.nowMs() - readStartedMs >= 5000, "it failed at its deadline, not before");
  } finally {
    await sim.close();
  }
});

test("concurrent writes to the same sectors end with the last one issued, whatever the link reorders or retransmits", async () => {
  const seed = simSeed("overlapping writes");
  const sim = new AoeSim({
    seed,
    faults: { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.2, delayMs: 0.2, jitterMs: 0.3 },
  });
  const disk = sim.disk("/sim/disk.img", MiB);
  await sim.startTarget({
    interfaces: ["tgt0"],
    exports: [{ address: "3.1", path: "/sim/disk.img" }],
  });
  const initiator = sim.initiator(["ini0"]);
  try {
    let device;
    for (let attempt = 0; !device; attempt++) {
      try {
        device = await sim.run(initiator.openDevice(3, 1, { listenMs: 300 }));
      } catch (error) {
        if (attempt > 10) throw error; // discovery frames can be lost too
      }
    }
    const SECTORS = 8;
    for (let round = 0; round < 8; round++) {
      // Issued together (as the serve-workers test does over real sockets): each write is
      // several frames; a frame of an early write retransmitted after a later write landed
      // must not win.
      const writes = [];
      for (let w = 0; w < 32; w++) {
        const fill = (round * 32 + w + 1) & 0xff;
        writes.push(device.writeSectors(Buffer.alloc(SECTORS * 512, fill), 16 + round));
      }
      await sim.run(Promise.all(writes));
      const last = (round * 32 + 32) & 0xff;
      const onDisk = disk.bytes.subarray((16 + round) * 512, (16 + round + SECTORS) * 512);
      assert.ok(
        onDisk.every((b) => b === last),
        `seed ${seed}, round ${round}: the disk holds ${[...new Set(onDisk)].join(",")}, not the last write's ${last}`,
      );
    }
    assert.ok(initiator.engine.counters.retransmits > 0, `seed ${seed}: retransmissions`);
  } finally {
    await sim.close();
  }
});
