/**
 * The Store contract on a SQLite database in memory (no disk, so a unit test), and what the SQLite
 * schema refuses beyond the contract.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../../foundation/errors.js";
import type { PoolRecord, TaskRecord, VolumeRecord } from "../../model.js";
import type { Store } from "../store.js";
import { domainStoreContract } from "../domain-store.contract.js";
import { storeContract } from "../store.contract.js";
import { IN_MEMORY } from "./open-database.js";
import { JSON_COLUMN_BYTES_MAX } from "./rows.js";
import { openSqliteStore } from "./sqlite-store.js";

storeContract("SQLite in memory", async () => ({ store: await openSqliteStore(IN_MEMORY) }), {
  persistent: false,
});
domainStoreContract("SQLite in memory", () => openSqliteStore(IN_MEMORY));

const pool: PoolRecord = {
  ...{ id: "pool-1", name: "p", hostId: "host-1", kind: "directory", path: "/srv/p" },
  ...{ devices: [], capacityBytes: null, freeBytes: null, createdMs: 1 },
};

function volume(overrides: Partial<VolumeRecord>): VolumeRecord {
  return {
    ...{ id: "vol-1", name: "web", kind: "volume", poolId: pool.id, hostId: pool.hostId },
    ...{ sizeBytes: 4096, allocatedBytes: null, sourceId: null, shelf: 1, slot: 1 },
    ...{ exported: false, allow: [], state: "creating", error: null, generation: 1 },
    ...{ allowEveryone: false, grants: [], appliedGeneration: 0 },
    ...{ createdMs: 1, updatedMs: 1 },
    ...overrides,
  };
}

async function withPool(
  body: (store: Store) => Promise<void>,
  nowMs?: () => number,
): Promise<void> {
  const store = await openSqliteStore(IN_MEMORY, nowMs ? { nowMs } : {});
  try {
    await store.createHost({
      ...{ id: pool.hostId, name: "h", roles: ["storage"], exportInterfaces: [] },
      ...{ inventory: null, lastSeenMs: null, maintenance: null, createdMs: 1 },
    });
    await store.createPool(pool);
    await body(store);
  } finally {
    await store.close();
  }
}

function invalid(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isEtherplaneError(error, "INVALID_ARGUMENT"), String(error));
    assert.match(error.message, pattern);
    return true;
  };
}

test("AoE addresses outside the protocol's range and fractional sizes are refused", async () => {
  await withPool(async (store) => {
    // Shelf 0xffff and slot 0xff are broadcast addresses (AoE spec r11, section 3.2).
    await assert.rejects(store.createVolume(volume({ shelf: 65535 })), invalid(/shelf/));
    await assert.rejects(store.createVolume(volume({ slot: 255 })), invalid(/slot/));
    await assert.rejects(store.createVolume(volume({ shelf: -1 })), invalid(/shelf/));
    await assert.rejects(store.createVolume(volume({ sizeBytes: 1.5 })), invalid(/size_bytes/));
    assert.deepEqual(await store.listVolumes(), []);
  });
});

test("a JSON column over its bound, or not JSON at all, is refused", async () => {
  await withPool(async (store) => {
    const allow = [("x" as string).repeat(JSON_COLUMN_BYTES_MAX)];
    await assert.rejects(store.createVolume(volume({ allow })), invalid(/allow.*bytes/));
    const task: Omit<TaskRecord, "result"> = {
      ...{ id: "task-1", kind: "k", state: "running", progress: 0, message: "" },
      ...{ subjectId: null, error: null, createdBy: "me", createdMs: 1, updatedMs: 1 },
    };
    await assert.rejects(store.createTask({ ...task, result: 10n }), invalid(/result/));
    assert.deepEqual(await store.listTasks(), []);
  });
});

test("updateVolume stamps updatedMs from the store's clock", async () => {
  let nowMs = 1_000;
  await withPool(
    async (store) => {
      await store.createVolume(volume({}));
      nowMs = 77_000;
      assert.equal((await store.updateVolume("vol-1", { state: "ready" })).updatedMs, 77_000);
    },
    () => nowMs,
  );
});

test("the conflict message names the volume holding a taken address", async () => {
  await withPool(async (store) => {
    await store.createVolume(volume({ shelf: 3, slot: 9 }));
    await assert.rejects(
      store.createVolume(volume({ id: "vol-2", name: "db", shelf: 3, slot: 9 })),
      (error: unknown) => {
        assert.ok(isEtherplaneError(error, "CONFLICT"));
        assert.equal(error.message, 'AoE address e3.9 is taken by volume "web"');
        return true;
      },
    );
  });
});
