/**
 * Retransmission on a lossy link: our initiator, over a real veth but through a seeded fake that
 * drops, duplicates and reorders 10% of frames each way, still writes and reads a pattern exactly;
 * every retransmission carries a fresh tag, and the target's duplicate handling is idempotent.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import {
  createAoeLink,
  makeBackingFile,
  pattern,
  startTarget,
  type AoeLink,
} from "../../../test/lab/aoe-lab.js";
import { LossySocket } from "../../../test/lab/lossy-socket.js";
import { openAfPacketSocket } from "../../net/raw-socket/af-packet.js";
import { AOE_ETHERTYPE } from "../codec/header.js";
import type { AoeTarget } from "../target/aoe-target.js";
import { AoeInitiator } from "./aoe-initiator.js";

let link: AoeLink;
let target: AoeTarget;
let disk: string;
before(async () => {
  link = await createAoeLink("lossy");
  disk = makeBackingFile(link.dir, "disk.img", 4 * 1024 * 1024);
  target = await startTarget(link.targetNs, {
    stateDir: `${link.dir}/state`,
    interfaces: ["tgt0"],
    exports: [{ address: "8.1", path: disk }],
  });
});
after(async () => {
  await target?.stop();
  await link?.close();
});

test("10% loss, duplication and reordering each way: exact data, fresh tags on every retransmission", async () => {
  const seed = Number(process.env["ETHERPLANE_LOSS_SEED"] ?? Date.now() % 2 ** 31);
  const lossy = new LossySocket(
    openAfPacketSocket({
      ifname: "ini0",
      ethertype: AOE_ETHERTYPE,
      netnsPath: link.initiatorNs.path,
    }),
    {
      seed,
      dropRate: 0.1,
      duplicateRate: 0.05,
      reorderRate: 0.05,
    },
  );
  const initiator = new AoeInitiator([lossy]);
  try {
    let device;
    for (let attempt = 0; !device; attempt++) {
      try {
        device = await initiator.openDevice(8, 1, { listenMs: 300 });
      } catch (error) {
        if (attempt > 10) throw error; // discovery frames can be lost too
      }
    }
    const data = pattern(512 * 1024, seed);
    await device.write(data, 1024 * 1024);
    const back = Buffer.alloc(data.length);
    await device.read(back, 1024 * 1024);
    assert.ok(back.equals(data), `seed ${seed}: read-back equals the pattern`);
    assert.ok(
      fs
        .readFileSync(disk)
        .subarray(1024 * 1024, 1024 * 1024 + data.length)
        .equals(data),
      `seed ${seed}: backing file`,
    );
    const counters = initiator.engine.counters;
    assert.ok(lossy.dropped > 20, `seed ${seed}: frames were dropped (${lossy.dropped})`);
    assert.ok(
      counters.retransmits > 0,
      `seed ${seed}: retransmissions happened (${counters.retransmits})`,
    );
    // Tags: each frame the initiator sent carried a tag never used before (duplicates made by
    // the fake link are not the initiator's sends and are not recorded).
    assert.equal(
      new Set(lossy.sentTags).size,
      lossy.sentTags.length,
      `seed ${seed}: no tag reused`,
    );
    assert.ok(
      lossy.sentTags.every((tag) => tag >>> 31 === 1),
      "userland tags have the top bit set",
    );
  } finally {
    initiator.close();
  }
});
