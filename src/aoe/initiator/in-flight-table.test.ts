import assert from "node:assert/strict";
import { test } from "node:test";
import { InFlightTable, TAG_USERLAND } from "./in-flight-table.js";

void test("a tag finds its entry until it is removed; a reused slot's old tag is stale", () => {
  const table = new InFlightTable<string>(0x1234);
  const a = table.add("a");
  const b = table.add("b");
  assert.notEqual(a, b);
  assert.equal(table.get(a), "a");
  assert.equal(table.get(b), "b");
  assert.equal(table.size, 2);
  for (const tag of [a, b]) assert.ok((tag & TAG_USERLAND) !== 0, "userland bit clear");

  table.remove(a);
  assert.equal(table.get(a), undefined);
  const c = table.add("c"); // takes a's slot again, with the next generation
  assert.equal(c & 0xffff, a & 0xffff, "the freed slot was not reused");
  assert.notEqual(c, a);
  assert.equal(table.get(a), undefined, "a late reply to the slot's earlier tag matched");
  assert.equal(table.get(c), "c");
  assert.equal(table.size, 2);
});

void test("tags that were never given, or only differ in generation, find nothing", () => {
  const table = new InFlightTable<number>(0);
  const tag = table.add(1);
  assert.equal(table.get((tag ^ (1 << 16)) >>> 0), undefined);
  assert.equal(table.get(tag + 1), undefined, "an index past the table's end");
  assert.equal(table.get(tag & 0x7fffffff), undefined, "a kernel-style tag (bit 31 clear)");
  assert.throws(() => table.remove(tag + 1), /not in flight/);
});

void test("a slot's generation wraps after 32768 uses and the tag stays a userland tag", () => {
  const table = new InFlightTable<number>(0x7ffe);
  const seen = new Set<number>();
  for (let i = 0; i < 40_000; i++) {
    const tag = table.add(i);
    assert.equal(tag & 0xffff, 0);
    assert.ok(tag >= TAG_USERLAND);
    if (i < 0x8000) assert.ok(!seen.has(tag), `tag ${tag} repeated after ${i} uses`);
    seen.add(tag);
    table.remove(tag);
  }
  assert.equal(seen.size, 0x8000);
});

void test("listener tags never match a slot and do not repeat soon", () => {
  const table = new InFlightTable<number>(7);
  const slotTags = new Set(Array.from({ length: 100 }, (_, i) => table.add(i)));
  const listenerTags = new Set(Array.from({ length: 1000 }, () => table.listenerTag()));
  assert.equal(listenerTags.size, 1000);
  for (const tag of listenerTags) {
    assert.ok(!slotTags.has(tag));
    assert.equal(table.get(tag), undefined);
    assert.equal(tag & 0xffff, 0xffff);
  }
});

void test("forEach visits every entry with its tag, even while entries are removed", () => {
  const table = new InFlightTable<string>(1);
  const tags = ["x", "y", "z"].map((name) => [name, table.add(name)] as const);
  const visited: string[] = [];
  table.forEach((entry, tag) => {
    visited.push(entry);
    assert.equal(table.get(tag), entry);
    table.remove(tag);
  });
  assert.deepEqual(visited, ["x", "y", "z"]);
  assert.equal(table.size, 0);
  for (const [, tag] of tags) assert.equal(table.get(tag), undefined);
});

void test("clear returns every entry and frees every slot", () => {
  const table = new InFlightTable<number>(2);
  const tags = [1, 2, 3].map((n) => table.add(n));
  table.remove(tags[1] as number);
  assert.deepEqual(table.clear().sort(), [1, 3]);
  assert.equal(table.size, 0);
  for (const tag of tags) assert.equal(table.get(tag), undefined);
  // Every slot is free again: three adds reuse indices 0-2, nothing past them.
  const again = [4, 5, 6].map((n) => table.add(n) & 0xffff).sort();
  assert.deepEqual(again, [0, 1, 2]);
});
