import assert from "node:assert/strict";
import { test } from "node:test";
import { SimClock } from "../../foundation/sim-clock.js";
import {
  RECENT_WRITES_MAX_AGE_MS,
  RecentWrites,
  WriteOrder,
  type OrderedWrite,
} from "./write-order.js";

const SOURCE = 0x02514d000001;
const write = (id: string, offset: number, bytes: number, tag = 0, source = SOURCE) => ({
  id,
  offset,
  bytes,
  tag,
  source,
});
type W = OrderedWrite & { id: string };
const ids = (writes: W[]) => writes.map((w) => w.id);

test("a write overlapping one in flight waits for it; disjoint writes go at once", () => {
  const order = new WriteOrder<W>();
  const a = write("a", 0, 1024, 1);
  const b = write("b", 512, 1024, 2);
  const c = write("c", 4096, 512, 3);
  assert.equal(order.admit(a), "issue");
  assert.equal(order.admit(b), "wait");
  assert.equal(order.admit(c), "issue");
  assert.deepEqual(ids(order.complete(c, true)), [], "c did not block b");
  assert.deepEqual(ids(order.complete(a, true)), ["b"]);
  assert.equal(order.inFlightCount, 1);
});

test("waiting writes keep their arrival order among themselves", () => {
  const order = new WriteOrder<W>();
  const a = write("a", 0, 512, 1);
  const b = write("b", 0, 1024, 2); // waits for a
  const c = write("c", 512, 512, 3); // overlaps only b: still waits behind it
  const d = write("d", 8192, 512, 4);
  assert.equal(order.admit(a), "issue");
  assert.equal(order.admit(b), "wait");
  assert.equal(order.admit(c), "wait");
  assert.equal(order.admit(d), "issue");
  assert.deepEqual(ids(order.complete(a, true)), ["b"], "c stays behind b");
  assert.deepEqual(ids(order.complete(b, true)), ["c"]);
  assert.deepEqual(ids(order.complete(c, true)), []);
  assert.equal(order.waitingCount, 0);
});

test("a copy of a write in flight or waiting is recognised; another source's tag is not a copy", () => {
  const order = new WriteOrder<W>();
  assert.equal(order.admit(write("a", 0, 512, 7)), "issue");
  assert.equal(order.admit(write("a'", 0, 512, 7)), "in-flight-copy");
  assert.equal(order.admit(write("b", 0, 512, 8)), "wait");
  assert.equal(order.admit(write("b'", 0, 512, 8)), "in-flight-copy");
  assert.equal(order.admit(write("x", 0, 512, 7, SOURCE + 1)), "wait", "same tag, other MAC");
  assert.equal(order.admit(write("y", 512, 512, 7)), "issue", "same tag, other sectors");
});

test("a copy of a completed write is acknowledged, not executed; a failed one may run again", () => {
  const order = new WriteOrder<W>();
  const a = write("a", 0, 512, 1);
  const b = write("b", 0, 512, 2);
  order.admit(a);
  order.complete(a, true);
  assert.equal(order.admit(write("a copy", 0, 512, 1)), "done-copy");
  order.admit(b);
  order.complete(b, false);
  assert.equal(order.admit(write("b again", 0, 512, 2)), "issue");
});

test("completions are remembered up to the bound, the oldest forgotten first", () => {
  const order = new WriteOrder<W>(new RecentWrites({ max: 4 }));
  for (let tag = 1; tag <= 6; tag++) {
    const w = write(`w${tag}`, tag * 512, 512, tag);
    order.admit(w);
    order.complete(w, true);
  }
  assert.equal(order.admit(write("1", 512, 512, 1)), "issue", "tag 1 was forgotten");
  assert.equal(order.admit(write("2", 1024, 512, 2)), "issue", "tag 2 was forgotten");
  assert.equal(order.admit(write("3", 1536, 512, 3)), "done-copy");
  assert.equal(order.admit(write("6", 3072, 512, 6)), "done-copy");
});

test("a completion is forgotten once it is RECENT_WRITES_MAX_AGE_MS old: a tag the initiator reused later is a new write", async () => {
  // Linux's aoe tags repeat after at most 65,536 jiffies; a copy from the link is milliseconds late.
  const clock = new SimClock();
  const order = new WriteOrder<W>(new RecentWrites({ clock }));
  const old = write("old", 4096, 1024, 0x12340000);
  order.admit(old);
  order.complete(old, true);
  await clock.advance(RECENT_WRITES_MAX_AGE_MS - 1);
  assert.equal(order.admit(write("late copy", 4096, 1024, 0x12340000)), "done-copy");
  await clock.advance(1);
  const again = write("same tag, 30 s on", 4096, 1024, 0x12340000);
  assert.equal(order.admit(again), "issue", "an old completion no longer hides a write");
  order.complete(again, true);
  assert.equal(order.admit(write("its copy", 4096, 1024, 0x12340000)), "done-copy");
});

test("completing a write that is not in flight is a bug, asserted", () => {
  const order = new WriteOrder<W>();
  assert.throws(() => order.complete(write("z", 0, 512), true), /not in flight/);
});

test("the memory is the one it is given: a completion recorded elsewhere is a copy here too", () => {
  // As with the native fast path, which records its own writes in the shared memory.
  const memory = new RecentWrites();
  const order = new WriteOrder<W>(memory);
  memory.remember(write("done natively", 0, 512, 7));
  assert.equal(order.admit(write("its copy", 0, 512, 7)), "done-copy");
  const ours = write("ours", 512, 512, 8);
  order.admit(ours);
  order.complete(ours, true);
  assert.equal(memory.has(write("ours again", 512, 512, 8)), true, "recorded in the memory");
});
