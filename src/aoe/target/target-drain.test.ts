/**
 * AoeTarget.stop() with writes in flight on a slow disk, on the simulator: every admitted write
 * completes and is answered before the sockets close; frames arriving after the stop are dropped,
 * not executed; a disk slower than the drain timeout does not hold stop() forever. Seeded and
 * replayable (ETHERPLANE_SIM_SEED).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AoeSim } from "../../../test/sim/aoe-sim.js";
import { simSeed } from "../../../test/sim/random.js";
import { drainAdmittedWrites } from "../testing/drain-cases.js";

const MiB = 1024 * 1024;

test("stop() drains in-flight writes on a slow disk and answers them", async () => {
  const seed = simSeed("drain");
  const sim = new AoeSim({ seed });
  const disk = sim.disk("/sim/disk.img", 4 * MiB, { writeLatencyMs: 300 });
  const target = await sim.startTarget({
    interfaces: ["tgt0"],
    exports: [{ address: "4.2", path: "/sim/disk.img" }],
  });
  const initiator = sim.initiator(["ini0"]);
  try {
    const { written } = await drainAdmittedWrites({
      target,
      initiator,
      run: (promise) => sim.run(promise),
      until: (done, what) => sim.clock.runUntil(done, what),
      diskBytes: () => disk.bytes,
      seed,
    });
    assert.ok(
      disk.bytes.subarray(written).every((b) => b === 0),
      "nothing past the admitted writes, even after the stop",
    );
    assert.ok((target.stats().drops.stopping ?? 0) > 0, "frames after the stop were dropped");
  } finally {
    initiator.close();
  }
});

test("stop() gives up on a disk slower than the drain timeout, and still closes", async () => {
  const seed = simSeed("drain timeout");
  const sim = new AoeSim({ seed });
  sim.disk("/sim/disk.img", MiB, { writeLatencyMs: 60_000 });
  const target = await sim.startTarget({
    interfaces: ["tgt0"],
    exports: [{ address: "4.3", path: "/sim/disk.img" }],
  });
  const initiator = sim.initiator(["ini0"]);
  try {
    const device = await sim.run(initiator.openDevice(4, 3, { requestTimeoutMs: 120_000 }));
    void device.write(Buffer.alloc(4096, 1), 0).catch(() => undefined);
    await sim.clock.runUntil(
      () => (target.stats().exports[0]?.counters.inFlight ?? 0) > 0,
      "writes in flight",
    );
    const startedMs = sim.clock.nowMs();
    await sim.run(target.stop({ drainTimeoutMs: 5000 }), "stop()");
    const tookMs = sim.clock.nowMs() - startedMs;
    assert.ok(tookMs >= 5000 && tookMs < 60_000, `stop() took ${tookMs} virtual ms`);
    assert.throws(() => sim.opened("tgt0"), /nothing open/, "the target's socket is closed");
  } finally {
    initiator.close();
  }
});
