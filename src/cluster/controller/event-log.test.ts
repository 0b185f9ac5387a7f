/**
 * The event log writes the events recorded in one turn of the event loop in one store
 * transaction (one fsync), in order, each caller answered with its own event.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { IN_MEMORY } from "../store/sqlite/open-database.js";
import { openSqliteStore } from "../store/sqlite/index.js";
import { EventLog } from "./event-log.js";

test("a burst of events is one transaction, in order, and each caller gets its own", async () => {
  const store = await openSqliteStore(IN_MEMORY);
  const batches: number[] = [];
  // Counts the store's appends (the real store underneath does the writing).
  const counting = new Proxy(store, {
    get(target, key, receiver) {
      if (key === "appendEvents")
        return (entries: unknown[], rowsMax: number) => {
          batches.push(entries.length);
          return target.appendEvents(entries as never, rowsMax);
        };
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  const log = new EventLog(counting, () => 42, 50);
  const heard: string[] = [];
  log.listen((e) => heard.push(e.subject));
  const recorded = await Promise.all(
    Array.from({ length: 120 }, (_, i) => log.record("host.reporting", `h${i}`, `host h${i}`)),
  );
  assert.deepEqual(batches, [120], "one transaction for the burst");
  assert.deepEqual(
    recorded.map((e) => e.subject),
    Array.from({ length: 120 }, (_, i) => `h${i}`),
  );
  assert.ok(
    recorded.every((e, i) => i === 0 || e.id > (recorded[i - 1]?.id ?? 0)),
    "ids grow",
  );
  assert.deepEqual(
    heard,
    recorded.map((e) => e.subject),
    "listeners in order",
  );
  const kept = await log.list({ limit: 1000 });
  assert.equal(kept.length, 50, "bounded at rowsMax");
  assert.equal(kept.at(-1)?.subject, "h119");

  // Later events: another transaction.
  await log.record("host.reporting", "late", "late");
  assert.deepEqual(batches, [120, 1]);
  await store.close();
});

test("a store that refuses the batch rejects every caller of it", async () => {
  const store = await openSqliteStore(IN_MEMORY);
  const log = new EventLog(store);
  await store.close();
  const results = await Promise.allSettled([
    log.record("host.reporting", "a", "a"),
    log.record("host.reporting", "b", "b"),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["rejected", "rejected"],
  );
});
