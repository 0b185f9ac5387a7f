import assert from "node:assert/strict";
import { test } from "node:test";
import { IN_FLIGHT_SLOTS_MAX, InFlightTable, TAG_USERLAND } from "./in-flight-table.js";

void test("a tag finds its entry until it is removed, then it is stale", () => {
  const table = new InFlightTable<string>(0x1234);
  const a = table.add("a");
  const b = table.add("b");
  assert.equal(a, (TAG_USERLAND | 0x1235) >>> 0, "tags count up from the first tag");
  assert.equal(b, a + 1);
  assert.equal(table.get(a), "a");
  assert.equal(table.get(b), "b");
  assert.equal(table.size, 2);
  table.remove(a);
  assert.equal(table.get(a), undefined);
  assert.equal(table.size, 1);
  assert.throws(() => table.remove(a), /not in flight/);
});

void test("no tag comes back within 200,000 sends, even with one frame in flight at a time", () => {
  // A target remembers completed writes by tag (aoe/target/write-order.ts): a tag that came back
  // soon, on a write of the same sectors, would be acknowledged there without being written.
  const table = new InFlightTable<number>(0);
  const seen = new Set<number>();
  for (let i = 0; i < 200_000; i++) {
    const tag = table.add(i);
    assert.ok(!seen.has(tag), `tag ${tag} came back after ${i} sends`);
    seen.add(tag);
    table.remove(tag);
  }
});

void test("the count wraps after 2^31 tags and every tag stays a userland one", () => {
  const table = new InFlightTable<number>(0x7ffffffe);
  const tags = [table.add(1), table.add(2), table.add(3)];
  assert.deepEqual(tags, [0xffffffff, 0x80000000, 0x80000001]);
  for (const tag of tags) assert.equal(table.get(tag) !== undefined, true);
  assert.equal(table.get(0x7fffffff), undefined, "a kernel-style tag (bit 31 clear)");
});

void test("a new tag whose slot a long-retransmitting frame holds is skipped", () => {
  const table = new InFlightTable<string>(0);
  const old = table.add("old");
  const tags = new Set<number>([old]);
  // One at a time, a few hundred frames come and go while `old` stays: their tags wrap around
  // the table's slots and reach the one `old` holds.
  for (let i = 0; i < 300; i++) {
    const tag = table.add(`new ${i}`);
    assert.ok(!tags.has(tag));
    tags.add(tag);
    assert.equal(table.get(old), "old", `frame ${i} took the old frame's slot`);
    table.remove(tag);
  }
  assert.equal(table.size, 1);
});

void test("the table grows as frames pile up, and every frame stays found", () => {
  const table = new InFlightTable<number>(77);
  const tags = Array.from({ length: 5000 }, (_, i) => table.add(i));
  assert.equal(new Set(tags).size, 5000);
  tags.forEach((tag, i) => assert.equal(table.get(tag), i));
  for (const tag of tags.filter((_, i) => i % 2 === 0)) table.remove(tag);
  tags.forEach((tag, i) => assert.equal(table.get(tag), i % 2 === 0 ? undefined : i));
  assert.equal(table.size, 2500);
  assert.equal(IN_FLIGHT_SLOTS_MAX, 65535);
});

void test("listener tags are never given to a frame", () => {
  const table = new InFlightTable<number>(7);
  const frameTags = new Set(Array.from({ length: 100 }, (_, i) => table.add(i)));
  const listenerTags = Array.from({ length: 100 }, () => table.listenerTag());
  for (const tag of listenerTags) {
    assert.ok(!frameTags.has(tag));
    assert.equal(table.get(tag), undefined);
    assert.ok(tag >= TAG_USERLAND);
  }
  for (let i = 0; i < 1000; i++) assert.ok(!listenerTags.includes(table.add(i)));
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
  assert.deepEqual(visited.sort(), ["x", "y", "z"]);
  assert.equal(table.size, 0);
  for (const [, tag] of tags) assert.equal(table.get(tag), undefined);
});

void test("clear returns every entry and leaves none", () => {
  const table = new InFlightTable<number>(2);
  const tags = [1, 2, 3].map((n) => table.add(n));
  table.remove(tags[1] as number);
  assert.deepEqual(table.clear().sort(), [1, 3]);
  assert.equal(table.size, 0);
  for (const tag of tags) assert.equal(table.get(tag), undefined);
  const again = table.add(4);
  assert.equal(table.get(again), 4);
});
