/**
 * Our initiator against our target on the simulator (test/sim/aoe-sim.ts): discovery, IDENTIFY,
 * whole-device patterns, the last sector, range errors, ATA commands, read-only exports, two
 * initiators at once, multipath, and an MTU change while running. No root, virtual time; the run
 * prints its seed and ETHERPLANE_SIM_SEED replays it. (target-initiator.integ.test.ts keeps a few
 * of these on real veth links, written once in src/aoe/testing/target-initiator-cases.ts.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AoeSim } from "../../../test/sim/aoe-sim.js";
import { pattern } from "../../../test/sim/pattern.js";
import { simSeed } from "../../../test/sim/random.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import {
  ATA_CMD_STATUS,
  ATA_DATA,
  encodeAtaFrame,
  ATA_ERR_FEATURE,
  ATA_SECTOR_COUNT,
  AtaCommand,
  AtaErrorBits,
  AtaStatus,
  POWER_MODE_ACTIVE,
  SECTOR_BYTES,
  type AoeHeader,
} from "../codec/index.js";
import type { AoeInitiator } from "../initiator/aoe-initiator.js";
import { enginePaths } from "../initiator/discovery.js";
import type { Path } from "../initiator/engine.js";
import { ataCommand, ataErrorOf, ataRead } from "../initiator/requests.js";
import {
  discoversBothExports,
  jumboFrames,
  multipath,
  readOnlyExport,
  smallExportContent,
  wholeDevicePattern,
  type TargetInitiatorBench,
} from "../testing/target-initiator-cases.js";
import type { AoeTarget } from "./aoe-target.js";

const MiB = 1024 * 1024;

/** One exchange through the engine, under virtual time: the reply frame and its header. */
function exchange(sim: AoeSim, ini: AoeInitiator, frame: Buffer, paths: readonly Path[]) {
  return sim.run(
    new Promise<{ reply: Buffer; header: AoeHeader }>((resolve, reject) =>
      ini.engine.submit({
        frame,
        paths,
        deadlineMs: ini.engine.clock.nowMs() + 2000,
        onReply: (reply, header) => resolve({ reply, header }),
        onFail: reject,
      }),
    ),
    "a reply",
  );
}

async function ask(sim: AoeSim, ini: AoeInitiator, frame: Buffer, paths: readonly Path[]) {
  return (await exchange(sim, ini, frame, paths)).reply;
}

describe("etherplane initiator <-> etherplane target (simulated links)", () => {
  const seed = simSeed("target-initiator");
  const sim = new AoeSim({ seed, links: 2 });
  const disk = sim.disk("/sim/disk.img", 4 * MiB);
  const small = sim.disk("/sim/small.img", smallExportContent());
  let target: AoeTarget;
  const open = (ini: AoeInitiator, shelf: number, slot: number) =>
    sim.run(ini.openDevice(shelf, slot), `e${shelf}.${slot} to open`);

  before(async () => {
    target = await sim.startTarget({
      interfaces: ["tgt0", "tgt1"],
      exports: [
        { address: "1.0", path: "/sim/disk.img", model: "test disk", serial: "T-1-0" },
        { address: "1.1", path: "/sim/small.img", readOnly: true },
      ],
    });
  });
  after(() => sim.close());
  const bench: TargetInitiatorBench = {
    get target() {
      return target;
    },
    diskBytes: 4 * MiB,
    diskGb: "0.004",
    bytesOf: (address) => (address === "1.0" ? disk : small).bytes,
    initiator: (ifnames) => sim.initiator(ifnames),
    run: (promise) => sim.run(promise),
    seed,
    jumbo: async () => {
      sim.setMtu("tgt0", 9000);
      sim.setMtu("ini0", 9000);
      // The target notices by itself, on its MTU poll (virtual time, no refreshMtus call).
      await sim.clock.advance(500);
      assert.equal(target.stats().interfaces.find((i) => i.ifname === "tgt0")?.sectorsMax, 17);
    },
  };

  test("discovery finds both exports with size, interface, payload and state, as aoe-stat prints them", () =>
    discoversBothExports(bench));

  test("discovery of one shelf.slot stops soon after its first answer, with every path that answered", async () => {
    const ini = sim.initiator(["ini0", "ini1"]);
    const timed = async (settleMs?: number) => {
      const startMs = sim.clock.nowMs();
      const [found] = await sim.run(ini.discover({ listenMs: 1000, shelf: 1, slot: 0, settleMs }));
      return { found, ms: sim.clock.nowMs() - startMs };
    };
    const whole = await timed();
    const settled = await timed(50);
    assert.ok(whole.ms >= 1000, `without settleMs the whole window: ${whole.ms} ms`);
    assert.ok(settled.ms < 500, `with settleMs 50 it stops early: ${settled.ms} ms`);
    assert.deepEqual(
      settled.found?.paths.map((p) => p.ifname).sort(),
      whole.found?.paths.map((p) => p.ifname).sort(),
    );
    assert.equal(settled.found?.paths.length, 2, "both interfaces' paths");
    assert.equal(settled.found?.identify?.sectors, (4 * MiB) / SECTOR_BYTES);
  });

  test("a pattern written over the whole device reads back, and is on the disk", () =>
    wholeDevicePattern(bench));

  test("the last sector, unaligned edges, and reads past the end", async () => {
    const device = await open(sim.initiator(["ini0"]), 1, 0);
    const last = pattern(SECTOR_BYTES, 7);
    await sim.run(device.write(last, device.sizeBytes - SECTOR_BYTES));
    assert.ok(disk.bytes.subarray(device.sizeBytes - SECTOR_BYTES).equals(last));
    // An unaligned write keeps its neighbours.
    const before = Buffer.alloc(2 * SECTOR_BYTES);
    await sim.run(device.read(before, 4096));
    await sim.run(device.write(Buffer.from("unaligned!"), 4096 + 300));
    const afterWrite = Buffer.alloc(2 * SECTOR_BYTES);
    await sim.run(device.read(afterWrite, 4096));
    const expected = Buffer.from(before);
    Buffer.from("unaligned!").copy(expected, 300);
    assert.ok(afterWrite.equals(expected));
    await assert.rejects(sim.run(device.read(Buffer.alloc(SECTOR_BYTES), device.sizeBytes)), (e) =>
      isEtherplaneError(e, "OUT_OF_RANGE"),
    );
  });

  test("the target answers a read beyond the end with ATA IDNF, not silence", async () => {
    const ini = sim.initiator(["ini0"]);
    const device = await open(ini, 1, 0);
    const paths = enginePaths(ini.engine, device.target);
    const sectors = device.sizeBytes / SECTOR_BYTES;
    for (const [lba, count] of [
      [sectors, 1],
      [sectors - 1, 2],
      [2 ** 40, 1],
    ] as const) {
      const { reply, header } = await exchange(sim, ini, ataRead(1, 0, lba, count), paths);
      const error = ataErrorOf(reply, header, "read");
      assert.ok(isEtherplaneError(error, "OUT_OF_RANGE"), `LBA ${lba} x${count}: ${String(error)}`);
    }
  });

  test("CHECK POWER MODE, FLUSH CACHE, an LBA28 READ SECTORS and an unknown ATA command", async () => {
    const ini = sim.initiator(["ini0"]);
    const device = await open(ini, 1, 0);
    const paths = enginePaths(ini.engine, device.target).slice(0, 1);
    const power = await ask(sim, ini, ataCommand(1, 0, AtaCommand.checkPowerMode), paths);
    assert.equal(power[ATA_CMD_STATUS], AtaStatus.drdy);
    assert.equal(power[ATA_SECTOR_COUNT], POWER_MODE_ACTIVE, "active or idle");
    const flushesBefore = disk.flushes;
    const flushed = await ask(sim, ini, ataCommand(1, 0, AtaCommand.flushCache), paths);
    assert.equal(flushed[ATA_CMD_STATUS], AtaStatus.drdy);
    assert.equal(disk.flushes, flushesBefore + 1, "the flush reached the disk");
    // LBA28 READ SECTORS: the kernel puts 0xE0 (LBA mode | device) in the top byte; masked off.
    const sectors = pattern(SECTOR_BYTES * 2, 28);
    await sim.run(device.write(sectors, 100 * SECTOR_BYTES));
    const lba28 = encodeAtaFrame(
      {
        dst: Buffer.alloc(6),
        src: Buffer.alloc(6),
        flags: 0,
        error: 0,
        shelf: 1,
        slot: 0,
        command: 0,
        tag: 0,
      },
      {
        aflags: 0,
        errFeature: 0,
        sectorCount: 2,
        cmdStatus: AtaCommand.readSectors,
        lba: 0xe0000064,
      },
    );
    const read28 = await ask(sim, ini, lba28, paths);
    assert.equal(read28[ATA_CMD_STATUS], AtaStatus.drdy);
    assert.ok(
      read28.subarray(ATA_DATA, ATA_DATA + 2 * SECTOR_BYTES).equals(sectors),
      "LBA28 read of sector 100",
    );
    const unknown = await ask(sim, ini, ataCommand(1, 0, 0xb0), paths); // SMART: not served
    assert.equal((unknown[ATA_CMD_STATUS] as number) & AtaStatus.err, AtaStatus.err);
    assert.equal((unknown[ATA_ERR_FEATURE] as number) & AtaErrorBits.abrt, AtaErrorBits.abrt);
  });

  test("a read-only export serves reads and refuses writes with an ATA abort", async () => {
    await readOnlyExport(bench);
    assert.equal(small.writes, 0, "no write reached the disk");
  });

  test("two initiators (different MACs) write and read at the same time", async () => {
    const a = await open(sim.initiator(["ini0"]), 1, 0);
    const b = await open(sim.initiator(["ini1"]), 1, 0);
    const half = a.sizeBytes / 2;
    const dataA = pattern(half, seed + 11);
    const dataB = pattern(half, seed + 12);
    await sim.run(Promise.all([a.write(dataA, 0), b.write(dataB, half)]));
    const [backA, backB] = [Buffer.alloc(half), Buffer.alloc(half)];
    await sim.run(Promise.all([b.read(backA, 0), a.read(backB, half)])); // each reads the other's half
    assert.ok(backA.equals(dataA), `seed ${seed}`);
    assert.ok(backB.equals(dataB), `seed ${seed}`);
  });

  test("multipath: one device over two interfaces spreads frames over both paths", () =>
    multipath(bench, 2 * MiB));

  test("jumbo frames: after the MTU goes to 9000 the target offers 17 sectors per frame", async () => {
    await jumboFrames(bench, MiB + 5 * SECTOR_BYTES);
    const counters = target.stats().exports.find((e) => e.address === "1.0")?.counters;
    assert.ok(counters && counters.ataErrors > 0, "the IDNF test counted errors");
  });
});
