/**
 * AoeTarget.stop() with writes in flight on a slow disk, written once for the simulator
 * (target-drain.test.ts) and real veth (target-drain.integ.test.ts): a write larger than the
 * target's window, the stop while part of it is admitted; every admitted write completes and is
 * answered before stop() returns, and what was not admitted is not executed.
 */
import assert from "node:assert/strict";
import { pattern } from "../../../test/sim/pattern.js";
import type { AoeInitiator } from "../initiator/aoe-initiator.js";
import type { AoeTarget } from "../target/aoe-target.js";

/** A target serving 4.2 (sectors of 1024-byte frames, a disk slow enough to queue writes). */
export interface DrainBench {
  target: AoeTarget;
  initiator: AoeInitiator;
  /** Runs a promise to its end (the simulator drives its clock meanwhile). */
  run<T>(promise: Promise<T>): Promise<T>;
  /** Resolves once `done()` is true; fails naming `what` after a generous deadline. */
  until(done: () => boolean, what: string): Promise<void>;
  diskBytes(): Buffer;
  seed: number;
}

/** Runs the drain; returns what the caller's link can check further. */
export async function drainAdmittedWrites(
  b: DrainBench,
): Promise<{ written: number; admitted: number }> {
  const { target, initiator } = b;
  const device = await b.run(initiator.openDevice(4, 2, { requestTimeoutMs: 3000 }));
  const data = pattern(256 * 1024, b.seed); // more frames than the window of 64: not all admitted
  // Replies to frames the initiator has since retransmitted arrive under their old tags (stale).
  const answered = () => initiator.engine.counters.replies + initiator.engine.counters.staleReplies;
  const repliesBefore = answered();
  const write = device.write(data, 0).then(
    () => "acknowledged",
    (error: Error) => error.message,
  );
  const inFlight = () => target.stats().exports[0]?.counters.inFlight ?? 0;
  await b.until(() => inFlight() > 0, "writes in flight");
  const admitted = inFlight();
  // While stop() drains, the initiator keeps sending (retransmissions): none is executed.
  await b.run(target.stop());
  const written = target.stats().exports[0]?.counters.writtenBytes ?? 0;
  assert.equal(written, admitted * 1024, "every admitted write completed before stop() returned");
  assert.ok(b.diskBytes().subarray(0, written).equals(data.subarray(0, written)));
  // The admitted writes were answered before the sockets closed...
  await b.until(() => answered() - repliesBefore >= admitted, "the replies");
  assert.equal(answered() - repliesBefore, admitted);
  // ...and frames not admitted before the stop were not executed: the write is not acknowledged.
  assert.notEqual(await b.run(write), "acknowledged");
  return { written, admitted };
}
