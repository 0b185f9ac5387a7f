import assert from "node:assert/strict";
import { test } from "node:test";
import type { TargetStats } from "../../aoe/target/aoe-target.js";
import { newExportCounters } from "../../aoe/target/counters.js";
import { mergeStats } from "./serve-workers.js";

function stats(framesIn: number, address: string, kernelDrops: number): TargetStats {
  return {
    drops: { "not-addressed": 1 },
    framesIn,
    interfaces: [{ ifname: "eth1", mtu: 9000, sectorsMax: 17, kernelDrops, sendDrops: 1 }],
    exports: [
      {
        address,
        path: `/srv/${address}.img`,
        sizeBytes: 1,
        interfaces: ["eth1"],
        readOnly: false,
        durable: false,
        backing: "file",
        macMask: [],
        reservation: [],
        counters: newExportCounters(),
      },
    ],
  };
}

test("mergeStats sums the workers' frames and drops, one entry per interface, every export", () => {
  const merged = mergeStats([
    { index: 0, stats: stats(10, "1.0", 2) },
    { index: 1, stats: stats(5, "1.1", 3) },
  ]);
  assert.equal(merged.framesIn, 15);
  assert.deepEqual(merged.drops, { "not-addressed": 2 });
  assert.deepEqual(merged.interfaces, [
    { ifname: "eth1", mtu: 9000, sectorsMax: 17, kernelDrops: 5, sendDrops: 2 },
  ]);
  assert.deepEqual(
    merged.exports.map((e) => e.address),
    ["1.0", "1.1"],
  );
  assert.deepEqual(merged.workers, [
    { index: 0, framesIn: 10, exports: ["1.0"] },
    { index: 1, framesIn: 5, exports: ["1.1"] },
  ]);
});
