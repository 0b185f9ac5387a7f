/**
 * The long simulation (long-run.ts) in short: a run holds its invariants, the same seed gives the
 * same run, and a planted fault (the disk corrupts one write) is caught with its step. The seed is
 * printed; ETHERPLANE_SIM_SEED replays it. `npm run sim` runs the same simulation for longer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvariantError, longRun } from "./long-run.js";
import { simSeed } from "./random.js";

test("20,000 frames hold every invariant, and the same seed replays the same run", async () => {
  // Random seeds found an ordering fault (seeds 842365858, 1617469282, 1755252910: a duplicated
  // copy of an acknowledged write executed after a newer write to the same sectors), fixed by the
  // target's write order (src/aoe/target/write-order.ts, write-order.sim.test.ts); every run now
  // draws a new seed again.
  const seed = simSeed("long run, short");
  const first = await longRun({ seed, frames: 20_000 });
  assert.ok(first.writesAcknowledged > 100 && first.readsVerified > 100, JSON.stringify(first));
  assert.ok(first.hostileFrames > 50, `hostile frames were sent: ${first.hostileFrames}`);
  assert.ok(first.lost > 0, `seed ${seed}: the link lost frames`);
  const second = await longRun({ seed, frames: 20_000 });
  assert.deepEqual(second, first, `seed ${seed}: a replay is identical`);
});

test("a disk that corrupts a write breaks an invariant, reported with its step", async () => {
  const seed = simSeed("long run, planted fault");
  await assert.rejects(longRun({ seed, frames: 20_000, corruptWrite: 50 }), (error) => {
    assert.ok(error instanceof InvariantError, String(error));
    assert.equal(error.invariant, "no state change without a valid request");
    assert.ok(error.step > 0);
    assert.match(error.message, /failed at step \d+/);
    return true;
  });
});
