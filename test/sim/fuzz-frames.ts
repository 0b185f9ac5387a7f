/**
 * Hostile AoE frames for fuzzing a target, from a seeded stream: pure noise behind a valid
 * Ethernet header, or real captured frames (test/fixtures/aoe) with a few to a dozen bytes of the
 * AoE part changed, some cut short. The same maker runs over the simulator
 * (src/aoe/target/hostile-frames.test.ts) and over AF_PACKET (fuzz.integ.test.ts).
 */
import { aoeFrameFixtures } from "../lab/repo.js";
import { AOE_ETHERTYPE } from "../../src/aoe/codec/index.js";
import type { SeededRandom } from "./random.js";

const ETHERNET_HEADER_BYTES = 14;

/**
 * A function that makes one frame per call, addressed to `targetMac` from `sourceMac`. Captured
 * frames are readdressed to shelf `shelf`, slot 0, so they reach the export under test.
 */
export function fuzzFrameMaker(options: {
  rng: SeededRandom;
  targetMac: Buffer;
  sourceMac: Buffer;
  shelf: number;
}): () => Buffer {
  const { rng, targetMac, sourceMac, shelf } = options;
  const seeds = [...aoeFrameFixtures().values()].map((frame) => {
    const copy = Buffer.from(frame);
    targetMac.copy(copy, 0);
    copy.writeUInt16BE(shelf, 16);
    copy[18] = 0;
    return copy;
  });
  return (): Buffer => {
    const kind = rng.below(4);
    if (kind === 0) {
      // Pure noise behind a valid Ethernet header.
      const frame = rng.bytes(ETHERNET_HEADER_BYTES + rng.below(1500));
      targetMac.copy(frame, 0);
      sourceMac.copy(frame, 6);
      frame.writeUInt16BE(AOE_ETHERTYPE, 12);
      return frame;
    }
    const base = Buffer.from(seeds[rng.below(seeds.length)] as Buffer);
    sourceMac.copy(base, 6);
    if (rng.below(4) !== 0) base[ETHERNET_HEADER_BYTES] = 0x10; // mostly requests: version 1
    const flips = 1 + rng.below(kind === 1 ? 3 : 12);
    for (let i = 0; i < flips; i++) {
      // Mutate the AoE part (keep the Ethernet header so frames reach the target).
      const at =
        ETHERNET_HEADER_BYTES + rng.below(Math.max(1, base.length - ETHERNET_HEADER_BYTES));
      base[at] = rng.next() & 0xff;
    }
    if (kind === 3) return base.subarray(0, ETHERNET_HEADER_BYTES + rng.below(base.length - 13));
    return base;
  };
}
