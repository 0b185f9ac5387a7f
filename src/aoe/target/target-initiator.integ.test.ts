/**
 * Our initiator against our target over real veth links in network namespaces, for what only
 * real sockets, files and interfaces show: discovery, whole-device patterns in a backing file,
 * read-only files, multipath over two veths, and a real MTU change (1500 -> 9000) while running.
 * The protocol cases (range errors, ATA commands, unaligned edges, two initiators...) run on the
 * simulator in target-initiator.test.ts.
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
import { SECTOR_BYTES } from "../codec/index.js";
import type { AoeInitiator } from "../initiator/aoe-initiator.js";
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
      stats && stats.counters.writtenBytes > 0 && stats.counters.readBytes > 0,
      "counters move",
    );
  });
});
