/**
 * Hostile input against a running target, on the simulator: the cases of hostile-frame-cases.ts
 * (the deterministic ones of the AoE protocol's hostile-input list, then 100,000 random and
 * mutated frames). Every frame is delivered, so the drop counts are exact, and the simulator
 * also sees that nothing reached the disk or the state store. Seeded: the seed is printed and
 * ETHERPLANE_SIM_SEED replays it. (fuzz.integ.test.ts runs the same cases through AF_PACKET.)
 */
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { AoeSim } from "../../../test/sim/aoe-sim.js";
import { simSeed } from "../../../test/sim/random.js";
import {
  HOSTILE_DISK_BYTES,
  hostileFrameTests,
  type HostileFrameLink,
} from "../testing/hostile-frame-cases.js";

describe("hostile frames against a running target (simulated link)", () => {
  const seed = simSeed("hostile frames");
  const sim = new AoeSim({ seed });
  const disk = sim.disk("/sim/disk.img", HOSTILE_DISK_BYTES);
  let link: HostileFrameLink;

  before(async () => {
    const target = await sim.startTarget({
      interfaces: ["tgt0"],
      exports: [{ address: "6.0", path: "/sim/disk.img" }],
    });
    const raw = sim.socket("ini0");
    const replies: Buffer[] = [];
    raw.onFrames((frames) => replies.push(...frames));
    link = {
      target,
      targetMac: sim.mac("tgt0"),
      raw,
      replies,
      deliver: (frames) => {
        raw.send(frames);
        return sim.clock.advance(100);
      },
      sendBurst: (frames) => {
        raw.send(frames);
        return sim.clock.advance(1);
      },
      diskBytes: (offset, length) => disk.bytes.subarray(offset, offset + length),
      lossless: true,
      oversize: () => sim.link("ini0").counters.oversize,
      openDevice: () => sim.run(sim.initiator(["ini0"]).openDevice(6, 0)),
      run: (promise) => sim.run(promise),
      assertNothingStored: () => {
        assert.equal(disk.writes, 0, "no write reached the disk");
        assert.equal(sim.stateStore.saves, 0, "no state was saved");
      },
    };
  });
  after(() => sim.close());

  hostileFrameTests(() => link, { frames: 100_000, seed, label: "hostile frames" });
});
