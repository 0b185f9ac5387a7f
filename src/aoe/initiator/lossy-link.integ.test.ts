/**
 * Retransmission on a lossy link: our initiator, over a real veth but through a seeded fake that
 * drops, duplicates and reorders 10% of frames each way, still writes and reads a pattern exactly;
 * every retransmission carries a fresh tag, and the target's duplicate handling is idempotent.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import {
  createAoeBench,
  openAoeSocket,
  pattern,
  type AoeBench,
} from "../../../test/lab/aoe-lab.js";
import { LossySocket } from "../../../test/lab/lossy-socket.js";
import { AoeInitiator } from "./aoe-initiator.js";

let link: AoeBench;
before(async () => {
  link = await createAoeBench("lossy", { diskBytes: 4 * 1024 * 1024 });
  await link.serve("8.1");
});
after(async () => link?.close());

test("10% loss, duplication and reordering each way: exact data, fresh tags on every retransmission", async () => {
  const seed = Number(process.env["ETHERPLANE_LOSS_SEED"] ?? Date.now() % 2 ** 31);
  const lossy = new LossySocket(openAoeSocket(link.initiatorNs, "ini0"), {
    seed,
    dropRate: 0.1,
    duplicateRate: 0.05,
    reorderRate: 0.05,
  });
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
        .readFileSync(link.disk)
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
