/**
 * The rules every WriteMemory follows (write-order.ts: RecentWrites in TypeScript, the addon's
 * NativeWriteMemory), checked against a plain model on one seeded stream of completions and
 * lookups: the last RECENT_WRITES_MAX completions count, oldest forgotten first; by tag the
 * newest completion counts; a copy matches its tag, source, offset and length; a completion is
 * forgotten once its age reaches the memory's maximum (checked on the real clock, which the
 * native memory reads: only "still there long before" and "gone well after" are asserted).
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { RECENT_WRITES_MAX, type OrderedWrite, type WriteMemory } from "./write-order.js";

const OPERATIONS = 20_000;

/** mulberry32: the same stream for every implementation. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The model: every completion in order; the newest with a tag, among the last N, counts. */
function modelHas(done: readonly OrderedWrite[], w: OrderedWrite): boolean {
  for (let i = done.length - 1; i >= Math.max(0, done.length - RECENT_WRITES_MAX); i--) {
    const d = done[i] as OrderedWrite;
    if (d.tag !== w.tag) continue;
    return d.source === w.source && d.offset === w.offset && d.bytes === w.bytes;
  }
  return false;
}

/** Makes a memory; `maxAgeMs` the age limit, RECENT_WRITES_MAX_AGE_MS when not given. */
export type MakeWriteMemory = (maxAgeMs?: number) => WriteMemory;

export function writeMemoryContract(name: string, make: MakeWriteMemory): void {
  test(`${name}: forgets a completion once it is older than the maximum age`, async () => {
    const memory = make(300);
    const old: OrderedWrite = {
      tag: 0x7fff0001,
      source: 0x020000000001,
      offset: 4096,
      bytes: 1024,
    };
    memory.remember(old);
    assert.equal(memory.has(old), true, "a fresh completion is remembered");
    await sleep(600);
    assert.equal(memory.has(old), false, "a completion twice the maximum age is forgotten");
    const again: OrderedWrite = { ...old };
    memory.remember(again);
    assert.equal(memory.has(again), true, "the same tag completed again is remembered again");
    assert.throws(() => make(0), /maxAgeMs/, "an age limit of 0 is refused");
  });

  test(`${name}: remembers as the model does (eviction, tags reused, copies)`, () => {
    const memory = make();
    const next = random(7);
    const done: OrderedWrite[] = [];
    const sources = [0x020000000001, 0xfe0000000002]; // the second above 2^47: 48 bits count
    // Tags from a range a little wider than the memory (so some are forgotten, some reused),
    // and now and then a large one; offsets and lengths from a few values (so near-copies occur).
    const draw = (): OrderedWrite => ({
      tag: next() < 0.05 ? 0xffff0000 + Math.floor(next() * 4) : Math.floor(next() * 1500),
      source: sources[next() < 0.8 ? 0 : 1] as number,
      offset: [0, 512, 4096, 2 ** 40][Math.floor(next() * 4)] as number,
      bytes: [512, 1024][Math.floor(next() * 2)] as number,
    });
    let copies = 0;
    for (let i = 0; i < OPERATIONS; i++) {
      const w = next() < 0.3 && done.length > 0 ? probe(done, next) : draw();
      const expected = modelHas(done, w);
      assert.equal(memory.has(w), expected, `operation ${i}: ${JSON.stringify(w)}`);
      if (expected) copies++;
      if (next() < 0.6) {
        memory.remember(w);
        done.push(w);
      }
    }
    assert.ok(copies > OPERATIONS / 20, `the stream found ${copies} copies`);
    memory.setPending(3); // accepted; what it does is the fast path's (its integ test)
    memory.setPending(0);
  });
}

/** A recent completion, or one with a field changed (not a copy, unless the model says so). */
function probe(done: readonly OrderedWrite[], next: () => number): OrderedWrite {
  const back = Math.floor(next() * Math.min(done.length, RECENT_WRITES_MAX + 200));
  const d = done[done.length - 1 - back] as OrderedWrite;
  switch (Math.floor(next() * 5)) {
    case 0:
      return { ...d, source: d.source ^ 1 };
    case 1:
      return { ...d, offset: d.offset + 512 };
    case 2:
      return { ...d, bytes: d.bytes + 512 };
    default:
      return { ...d };
  }
}
