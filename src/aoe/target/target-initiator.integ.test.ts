/**
 * Our initiator against our target over real veth links in network namespaces: discovery,
 * IDENTIFY, whole-device patterns, the last sector, range errors, read-only exports, two
 * initiators at once, multipath, and MTU 1500 -> 9000 while running.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  createAoeLink,
  makeBackingFile,
  pattern,
  startInitiator,
  startTarget,
  type AoeLink,
} from "../../../test/lab/aoe-lab.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import { formatAoeStat } from "../../cli/aoe/discover.js";
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
} from "../codec/index.js";
import type { AoeInitiator } from "../initiator/aoe-initiator.js";
import { enginePaths } from "../initiator/discovery.js";
import { ataCommand, ataErrorOf, ataRead } from "../initiator/requests.js";
import type { AoeTarget } from "./aoe-target.js";

const MiB = 1024 * 1024;

describe("etherplane initiator <-> etherplane target", () => {
  let link: AoeLink;
  let target: AoeTarget;
  let disk: string;
  let small: string;
  const initiators: AoeInitiator[] = [];
  const initiator = (ifnames: string[]) => {
    const created = startInitiator(link.initiatorNs, ifnames);
    initiators.push(created);
    return created;
  };

  before(async () => {
    link = await createAoeLink("ti", { links: 2 });
    disk = makeBackingFile(link.dir, "disk.img", 16 * MiB);
    small = makeBackingFile(link.dir, "small.img", 1 * MiB + 3 * SECTOR_BYTES);
    fs.writeFileSync(small, pattern(1 * MiB + 3 * SECTOR_BYTES, 99));
    target = await startTarget(link.targetNs, {
      stateDir: `${link.dir}/state`,
      interfaces: ["tgt0", "tgt1"],
      exports: [
        { address: "1.0", path: disk, model: "test disk", serial: "T-1-0" },
        { address: "1.1", path: small, readOnly: true },
      ],
    });
  });

  after(async () => {
    for (const i of initiators) i.close();
    await target?.stop();
    await link?.close();
  });

  test("discovery finds both exports with size, interface, payload and state, as aoe-stat prints them", async () => {
    const targets = await initiator(["ini0"]).discover({ listenMs: 300 });
    assert.deepEqual(
      targets.map((t) => `${t.shelf}.${t.slot}`),
      ["1.0", "1.1"],
    );
    const [first, second] = targets;
    assert.equal(first?.identify?.sectors, (16 * MiB) / SECTOR_BYTES);
    assert.equal(second?.identify?.sectors, (MiB + 3 * SECTOR_BYTES) / SECTOR_BYTES);
    assert.equal(first?.paths[0]?.bufferCount, 64);
    assert.equal(first?.identify?.model, "test disk");
    assert.equal(first?.identify?.serial, "T-1-0");
    const lines = formatAoeStat(targets).split("\n");
    assert.match(lines[0] ?? "", /^\s+e1\.0\s+0\.017GB {2}ini0 1024 {2}up$/);
    assert.match(lines[1] ?? "", /^\s+e1\.1\s+0\.001GB {2}ini0 1024 {2}up$/);
  });

  test("a pattern written over the whole device reads back, and is in the backing file", async () => {
    const device = await initiator(["ini0"]).openDevice(1, 0);
    const data = pattern(device.sizeBytes, 1);
    await device.write(data, 0);
    const back = Buffer.alloc(device.sizeBytes);
    await device.read(back, 0);
    assert.ok(back.equals(data), "read-back equals the pattern");
    assert.ok(fs.readFileSync(disk).equals(data), "backing file equals the pattern");
    // The target served many requests at once, not one at a time as vblade does.
    const counters = target.stats().exports.find((e) => e.address === "1.0")?.counters;
    assert.ok(
      counters && counters.inFlightMax >= 32,
      `requests in flight at once: ${counters?.inFlightMax}`,
    );
    assert.ok(
      counters.ioCalls < counters.readRequests + counters.writeRequests,
      "adjacent frames shared system calls",
    );
  });

  test("the last sector, unaligned edges, and reads past the end", async () => {
    const device = await initiator(["ini0"]).openDevice(1, 0);
    const last = pattern(SECTOR_BYTES, 7);
    await device.write(last, device.sizeBytes - SECTOR_BYTES);
    const fromFile = Buffer.alloc(SECTOR_BYTES);
    const fd = fs.openSync(disk, "r");
    fs.readSync(fd, fromFile, 0, SECTOR_BYTES, device.sizeBytes - SECTOR_BYTES);
    assert.ok(fromFile.equals(last));
    // An unaligned write keeps its neighbours.
    const before = Buffer.alloc(2 * SECTOR_BYTES);
    await device.read(before, 4096);
    await device.write(Buffer.from("unaligned!"), 4096 + 300);
    const afterWrite = Buffer.alloc(2 * SECTOR_BYTES);
    await device.read(afterWrite, 4096);
    const expected = Buffer.from(before);
    Buffer.from("unaligned!").copy(expected, 300);
    assert.ok(afterWrite.equals(expected));
    fs.closeSync(fd);
    await assert.rejects(device.read(Buffer.alloc(SECTOR_BYTES), device.sizeBytes), (e) =>
      isEtherplaneError(e, "OUT_OF_RANGE"),
    );
  });

  test("the target answers a read beyond the end with ATA IDNF, not silence", async () => {
    const ini = initiator(["ini0"]);
    const device = await ini.openDevice(1, 0);
    const paths = enginePaths(ini.engine, device.target);
    const sectors = device.sizeBytes / SECTOR_BYTES;
    for (const [lba, count] of [
      [sectors, 1],
      [sectors - 1, 2],
      [2 ** 40, 1],
    ] as const) {
      const error = await new Promise((resolve, reject) =>
        ini.engine.submit({
          frame: ataRead(1, 0, lba, count),
          paths,
          deadlineMs: Date.now() + 2000,
          onReply: (frame, header) => resolve(ataErrorOf(frame, header, "read")),
          onFail: reject,
        }),
      );
      assert.ok(isEtherplaneError(error, "OUT_OF_RANGE"), `LBA ${lba} x${count}: ${String(error)}`);
    }
  });

  test("CHECK POWER MODE, FLUSH CACHE, an LBA28 READ SECTORS and an unknown ATA command", async () => {
    const ini = initiator(["ini0"]);
    const device = await ini.openDevice(1, 0);
    const [path] = enginePaths(ini.engine, device.target);
    assert.ok(path);
    const ask = (command: number) =>
      new Promise<Buffer>((resolve, reject) =>
        ini.engine.submit({
          frame: ataCommand(1, 0, command),
          paths: [path],
          deadlineMs: Date.now() + 2000,
          onReply: (frame) => resolve(frame),
          onFail: reject,
        }),
      );
    const power = await ask(AtaCommand.checkPowerMode);
    assert.equal(power[ATA_CMD_STATUS], AtaStatus.drdy);
    assert.equal(power[ATA_SECTOR_COUNT], POWER_MODE_ACTIVE, "active or idle");
    const flushed = await ask(AtaCommand.flushCache);
    assert.equal(flushed[ATA_CMD_STATUS], AtaStatus.drdy);
    const flushesBefore =
      target.stats().exports.find((e) => e.address === "1.0")?.counters.flushes ?? 0;
    assert.ok(flushesBefore >= 1, "the flush was counted (it ran fdatasync)");
    // LBA28 READ SECTORS: the kernel puts 0xE0 (LBA mode | device) in the top byte; masked off.
    const sector = pattern(SECTOR_BYTES * 2, 28);
    await device.write(sector, 100 * SECTOR_BYTES);
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
    const read28 = await new Promise<Buffer>((resolve, reject) =>
      ini.engine.submit({
        frame: lba28,
        paths: [path],
        deadlineMs: Date.now() + 2000,
        onReply: resolve,
        onFail: reject,
      }),
    );
    assert.equal(read28[ATA_CMD_STATUS], AtaStatus.drdy);
    assert.ok(
      read28.subarray(ATA_DATA, ATA_DATA + 2 * SECTOR_BYTES).equals(sector),
      "LBA28 read of sector 100",
    );
    const unknown = await ask(0xb0); // SMART: not served
    assert.equal((unknown[ATA_CMD_STATUS] as number) & AtaStatus.err, AtaStatus.err);
    assert.equal((unknown[ATA_ERR_FEATURE] as number) & AtaErrorBits.abrt, AtaErrorBits.abrt);
  });

  test("a read-only export serves reads and refuses writes with an ATA abort", async () => {
    const device = await initiator(["ini0"]).openDevice(1, 1);
    const back = Buffer.alloc(device.sizeBytes);
    await device.read(back, 0);
    assert.ok(back.equals(fs.readFileSync(small)));
    await assert.rejects(device.write(Buffer.alloc(SECTOR_BYTES), 0), (e) =>
      isEtherplaneError(e, "REFUSED"),
    );
    assert.ok(
      fs.readFileSync(small).equals(pattern(MiB + 3 * SECTOR_BYTES, 99)),
      "backing file unchanged",
    );
  });

  test("two initiators (different MACs) write and read at the same time", async () => {
    const a = await initiator(["ini0"]).openDevice(1, 0);
    const b = await initiator(["ini1"]).openDevice(1, 0);
    const half = a.sizeBytes / 2;
    const dataA = pattern(half, 11);
    const dataB = pattern(half, 12);
    await Promise.all([a.write(dataA, 0), b.write(dataB, half)]);
    const [backA, backB] = [Buffer.alloc(half), Buffer.alloc(half)];
    await Promise.all([b.read(backA, 0), a.read(backB, half)]); // each reads the other's half
    assert.ok(backA.equals(dataA));
    assert.ok(backB.equals(dataB));
  });

  test("multipath: one device over two interfaces spreads frames over both paths", async () => {
    const device = await initiator(["ini0", "ini1"]).openDevice(1, 0);
    assert.equal(device.pathStats().length, 2);
    const data = pattern(4 * MiB, 21);
    await device.write(data, 0);
    const back = Buffer.alloc(4 * MiB);
    await device.read(back, 0);
    assert.ok(back.equals(data));
    const replies = device.pathStats().map((p) => p.replies);
    assert.ok(
      replies.every((n) => n > 100),
      `both paths carried frames: ${replies.join(", ")}`,
    );
  });

  test("jumbo frames: after the MTU goes to 9000 the target offers 17 sectors per frame", async () => {
    for (const [ns, ifname] of [
      [link.targetNs, "tgt0"],
      [link.initiatorNs, "ini0"],
    ] as const)
      await ns.setMtu(ifname, 9000);
    target.refreshMtus();
    const device = await initiator(["ini0"]).openDevice(1, 0);
    assert.equal(device.sectorsPerFrame, 17);
    const [found] = await initiator(["ini0"]).discover({ listenMs: 200, shelf: 1, slot: 0 });
    assert.match(formatAoeStat(found ? [found] : []), /ini0 8704 {2}up$/);
    const data = pattern(3 * MiB + 5 * SECTOR_BYTES, 31);
    await device.write(data, 512 * 1000);
    const back = Buffer.alloc(data.length);
    await device.read(back, 512 * 1000);
    assert.ok(back.equals(data));
    const fromFile = fs.readFileSync(disk).subarray(512 * 1000, 512 * 1000 + data.length);
    assert.ok(fromFile.equals(data));
    const stats = target.stats().exports.find((e) => e.address === "1.0");
    assert.ok(
      stats && stats.counters.writtenBytes > 0 && stats.counters.ataErrors > 0,
      "counters move (the IDNF test counted errors)",
    );
  });
});
