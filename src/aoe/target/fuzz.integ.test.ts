/**
 * Hostile input against a running target over a real link: the cases of hostile-frame-cases.ts
 * through AF_PACKET sockets on veth, the random stream shorter than on the simulator
 * (hostile-frames.test.ts). A socket under load may drop frames of the stream, so this asks that
 * most arrive; every deterministic case waits for the reply to a valid write sent after it (the
 * link keeps their order), never for a fixed time. ETHERPLANE_FUZZ_SEED replays a stream.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { createAoeBench, macOf, openAoeSocket } from "../../../test/lab/aoe-lab.js";
import type { AoeBench } from "../../../test/lab/aoe-lab.js";
import {
  HOSTILE_DISK_BYTES,
  HOSTILE_SHELF,
  hostileFrameTests,
  type HostileFrameLink,
} from "../testing/hostile-frame-cases.js";
import { RequestFrames, tagOf } from "../testing/request-frames.js";
import type { AoeTarget } from "./aoe-target.js";

/** The simulator sends 100,000 (hostile-frames.test.ts); here the real socket carries a share. */
const FRAMES = 20_000;
/** How long one fence may go unanswered before it is sent again (a flooded socket drops). */
const FENCE_RESEND_MS = 2_000;
const FENCE_DEADLINE_MS = 120_000;

describe("hostile frames against a running target", () => {
  let bench: AoeBench;
  let target: AoeTarget;
  let link: HostileFrameLink;

  before(async () => {
    bench = await createAoeBench("fuzz", { diskBytes: HOSTILE_DISK_BYTES });
    target = await bench.serve("6.0");
    const targetMac = await macOf(bench.targetNs, "tgt0");
    const raw = openAoeSocket(bench.initiatorNs, "ini0");
    const replies: Buffer[] = [];
    const answered = new Set<number>();
    raw.onFrames((frames) => {
      replies.push(...frames);
      for (const frame of frames) answered.add(tagOf(frame));
    });
    // Fences: valid writes to the last sector, which no case reads.
    const fences = new RequestFrames({
      dst: targetMac,
      src: raw.mac,
      shelf: HOSTILE_SHELF,
      firstTag: 0x40000000,
    });
    const fenceLba = HOSTILE_DISK_BYTES / 512 - 1;
    let sent = 0;
    link = {
      target,
      targetMac,
      raw,
      replies,
      deliver: async (frames) => {
        raw.send(frames);
        const deadline = Date.now() + FENCE_DEADLINE_MS;
        for (;;) {
          const fence = fences.write(fenceLba, 0x01);
          raw.send([fence]);
          const resend = Date.now() + FENCE_RESEND_MS;
          while (!answered.has(tagOf(fence)) && Date.now() < resend)
            await new Promise((resolve) => setTimeout(resolve, 5));
          if (answered.has(tagOf(fence))) return;
          if (Date.now() > deadline) throw new Error("the target did not answer a valid write");
        }
      },
      sendBurst: async (frames) => {
        raw.send(frames);
        await new Promise((resolve) => setImmediate(resolve));
        if ((sent += frames.length) % 5000 === 0) await new Promise((r) => setTimeout(r, 2));
      },
      diskBytes: (offset, length) => fs.readFileSync(bench.disk).subarray(offset, offset + length),
      lossless: false,
      oversize: () => 0,
      openDevice: () => bench.initiator().openDevice(HOSTILE_SHELF, 0),
      run: (promise) => promise,
      assertNothingStored: () => undefined,
    };
  });

  after(async () => {
    link?.raw.close();
    await bench?.close();
  });

  hostileFrameTests(() => link, {
    frames: FRAMES,
    seed: Number(process.env["ETHERPLANE_FUZZ_SEED"] ?? Date.now() % 2 ** 31),
    label: "fuzz",
  });

  test("the backing file kept its size", () => {
    assert.equal(fs.statSync(bench.disk).size, HOSTILE_DISK_BYTES);
  });
});
