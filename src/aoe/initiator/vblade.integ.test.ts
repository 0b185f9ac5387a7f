/**
 * Our initiator against Debian's vblade, a target we did not write: discovery, patterns over the
 * whole device, the last sector, range errors, flush on a target without FLUSH CACHE, jumbo frames.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { createAoeBench, pattern, type AoeBench } from "../../../test/lab/aoe-lab.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import { SECTOR_BYTES } from "../codec/index.js";
import type { AoeInitiator } from "./aoe-initiator.js";

const MiB = 1024 * 1024;

for (const mtu of [1500, 9000]) {
  describe(`etherplane initiator <-> vblade at MTU ${mtu}`, () => {
    let link: AoeBench;
    let vblade: ChildProcess;
    let initiator: AoeInitiator;

    before(async () => {
      link = await createAoeBench(`vb${mtu}`, { mtu, diskBytes: 8 * MiB, diskName: "vblade.img" });
      vblade = link.net.adopt(
        spawn("ip", ["netns", "exec", link.targetNs.name, "vblade", "5", "1", "tgt0", link.disk], {
          stdio: "ignore",
        }),
      );
      initiator = link.initiator();
      // vblade needs a moment to open its socket; discovery retries until it answers.
      for (let attempt = 0; attempt < 20; attempt++) {
        if ((await initiator.discover({ listenMs: 150, shelf: 5, slot: 1 })).length > 0) break;
      }
    });

    after(async () => {
      vblade?.kill();
      await link?.close();
    });

    test("discovery sees vblade's export with its size and payload", async () => {
      const [target] = await initiator.discover({ listenMs: 300 });
      assert.ok(target, "vblade answered");
      assert.equal(`${target.shelf}.${target.slot}`, "5.1");
      assert.equal(target.identify?.sectors, (8 * MiB) / SECTOR_BYTES);
      assert.equal(target.identify?.model, "Coraid EtherDrive vblade");
      assert.equal(target.state, "up");
      assert.equal(target.paths[0]?.sectorsMax, mtu === 9000 ? 17 : 2);
    });

    test("a pattern over the whole device reads back and is in vblade's backing file", async () => {
      const device = await initiator.openDevice(5, 1);
      const data = pattern(device.sizeBytes, mtu);
      await device.write(data, 0);
      await device.flush(); // vblade aborts FLUSH CACHE: logged, not failed
      const back = Buffer.alloc(device.sizeBytes);
      await device.read(back, 0);
      assert.ok(back.equals(data));
      assert.ok(fs.readFileSync(link.disk).equals(data));
    });

    test("the last sector, and vblade's answer to a read past the end", async () => {
      const device = await initiator.openDevice(5, 1);
      const last = pattern(SECTOR_BYTES, 77);
      await device.write(last, device.sizeBytes - SECTOR_BYTES);
      const back = Buffer.alloc(SECTOR_BYTES);
      await device.read(back, device.sizeBytes - SECTOR_BYTES);
      assert.ok(back.equals(last));
      await assert.rejects(device.read(Buffer.alloc(SECTOR_BYTES), device.sizeBytes), (e) =>
        isEtherplaneError(e, "OUT_OF_RANGE"),
      );
      // Past the end on the wire: vblade answers with an ATA error, which the initiator reports.
      await assert.rejects(
        device.readSectors(Buffer.alloc(SECTOR_BYTES), device.sizeBytes / SECTOR_BYTES + 10),
        (e) => isEtherplaneError(e),
      );
    });
  });
}
