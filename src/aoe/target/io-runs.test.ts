import assert from "node:assert/strict";
import { test } from "node:test";
import { adjacentRuns, type Extent } from "./io-runs.js";

const io = (
  write: boolean,
  offset: number,
  bytes: number,
  id = offset,
): Extent & { id: number } => ({ write, offset, data: Buffer.alloc(bytes), id });
const shape = (runs: Array<Array<Extent & { id: number }>>) =>
  runs.map((run) => run.map((e) => `${e.write ? "w" : "r"}${e.id}`));

test("adjacent frames of one direction become one run, in offset order, whatever the arrival order", () => {
  const runs = adjacentRuns(
    [io(false, 2048, 1024), io(false, 0, 1024), io(false, 1024, 1024), io(false, 8192, 512)],
    1024,
  );
  assert.deepEqual(shape(runs), [["r0", "r1024", "r2048"], ["r8192"]]);
});

test("reads and writes, gaps and repeats (retransmissions) split runs", () => {
  const runs = adjacentRuns(
    [
      io(true, 0, 1024, 1),
      io(true, 0, 1024, 2),
      io(false, 1024, 1024),
      io(true, 2048, 1024),
      io(true, 4096, 512),
    ],
    1024,
  );
  assert.deepEqual(shape(runs), [["w1"], ["w2"], ["r1024"], ["w2048"], ["w4096"]]);
});

test("a run never holds more than maxPerRun extents", () => {
  const items = Array.from({ length: 10 }, (_, i) => io(true, i * 512, 512));
  assert.deepEqual(
    adjacentRuns(items, 4).map((run) => run.length),
    [4, 4, 2],
  );
  assert.deepEqual(adjacentRuns([], 4), []);
});
