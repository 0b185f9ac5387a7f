import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BUSY_SHARE_MAX, FlushPacer } from "./flush-pacer.js";

/** Holds the event loop for `ms`, as a synchronous SQLite commit with its fsync does. */
function hold(ms: number): void {
  const endMs = performance.now() + ms;
  while (performance.now() < endMs);
}

describe("flush pacer", () => {
  test("one batch per request burst; after a commit that held the loop D ms, the next waits 3 D", async () => {
    const starts: number[] = [];
    const ends: number[] = [];
    let resolveSecond: () => void = () => undefined;
    const second = new Promise<void>((r) => (resolveSecond = r));
    const pacer = new FlushPacer(() => {
      starts.push(performance.now());
      hold(20);
      ends.push(performance.now());
      if (starts.length === 2) resolveSecond();
      return Promise.resolve();
    });
    pacer.request();
    pacer.request(); // the same batch: requested while it waits
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(starts.length, 1, "requests before it ran made one batch");
    pacer.request();
    await second;
    const pauseMs = (starts[1] ?? 0) - (ends[0] ?? 0);
    const tookMs = (ends[0] ?? 0) - (starts[0] ?? 0);
    const wantMs = (tookMs * (1 - BUSY_SHARE_MAX)) / BUSY_SHARE_MAX;
    // A lower bound only (a loaded machine makes waits longer, never shorter).
    assert.ok(
      pauseMs >= wantMs,
      `paused ${pauseMs.toFixed(1)} ms after a ${tookMs.toFixed(1)} ms commit`,
    );
  });
});
