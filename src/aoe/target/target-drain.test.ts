/**
 * AoeTarget.stop() with writes in flight on a slow disk, on the simulator: every admitted write
 * completes and is answered before the sockets close; frames arriving after the stop are dropped,
 * not executed; a disk slower than the drain timeout does not hold stop() forever. Seeded and
 * replayable (ETHERPLANE_SIM_SEED).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AoeSim } from "../../../test/sim/aoe-sim.js";
import { pattern } from "../../../test/sim/pattern.js";
import { simSeed } from "../../../test/sim/random.js";

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
    const device = await sim.run(initiator.openDevice(4, 2, { requestTimeoutMs: 3000 }));
    const data = pattern(256 * 1024, seed); // more frames than the window of 64: not all admitted
    // Replies to frames the initiator has since retransmitted arrive under their old tags (stale).
    const answered = () =>
      initiator.engine.counters.replies + initiator.engine.counters.staleReplies;
    const repliesBefore = answered();
    const write = device.write(data, 0).then(
      () => "acknowledged",
      (error: Error) => error.message,
    );
    const inFlight = () => target.stats().exports[0]?.counters.inFlight ?? 0;
    await sim.clock.runUntil(() => inFlight() > 0, "writes in flight");
    const admitted = inFlight();
    const stopped = target.stop();
    // While stop() drains, the initiator keeps sending (retransmissions): none is executed.
    await sim.run(stopped, "stop()");
    const written = target.stats().exports[0]?.counters.writtenBytes ?? 0;
    assert.equal(written, admitted * 1024, "every admitted write completed before stop() returned");
    assert.ok(disk.bytes.subarray(0, written).equals(data.subarray(0, written)));
    assert.ok(
      disk.bytes.subarray(written).every((b) => b === 0),
      "nothing past the admitted writes",
    );
    // The admitted writes were answered before the sockets closed...
    await sim.clock.runUntil(() => answered() - repliesBefore >= admitted, "the replies");
    assert.equal(answered() - repliesBefore, admitted);
    assert.ok((target.stats().drops.stopping ?? 0) > 0, "frames after the stop were dropped");
    // ...and frames not admitted before the stop were not executed: the write is not acknowledged.
    assert.notEqual(await sim.run(write), "acknowledged");
    assert.equal(
      disk.bytes.subarray(written).some((b) => b !== 0),
      false,
    );
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
