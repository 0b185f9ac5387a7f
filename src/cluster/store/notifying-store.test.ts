import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DomainRecord, HostRecord, PoolRecord, VolumeRecord } from "../model.js";
import { domainRecord, hostRecord, volumeRecord } from "../testing/records.js";
import { notifyingStore, type Concerned } from "./notifying-store.js";
import { IN_MEMORY } from "./sqlite/open-database.js";
import { openSqliteStore } from "./sqlite/sqlite-store.js";

function host(id: string): HostRecord {
  return hostRecord({ id, roles: ["storage", "compute"] });
}

function volume(pool: PoolRecord, grantedTo: string[]): VolumeRecord {
  return volumeRecord({
    ...{ id: "vol-1", name: "v1", poolId: pool.id, hostId: pool.hostId, shelf: 1, slot: 1 },
    ...{ allocatedBytes: null, state: "creating" },
    grants: grantedTo.map((hostId) => ({
      domainId: "dom-1",
      hostId,
      macs: ["52:54:00:00:00:01"],
      generation: 1,
    })),
  });
}

function domain(hostId: string | null): DomainRecord {
  return domainRecord({ hostId });
}

/** A real SQLite store behind the notifying proxy, and the changes it announced. */
async function watched(): Promise<{ store: ReturnType<typeof notifyingStore>; seen: Concerned[] }> {
  const seen: Concerned[] = [];
  const store = notifyingStore(await openSqliteStore(IN_MEMORY), (hosts) =>
    seen.push(hosts === "all" ? "all" : [...hosts].sort()),
  );
  for (const id of ["s1", "c1", "c2"]) await store.createHost(host(id));
  seen.length = 0;
  return { store, seen };
}

describe("notifying store: which hosts a write concerns", () => {
  test("a volume concerns its storage host and the hosts granted it", async () => {
    const { store, seen } = await watched();
    const pool: PoolRecord = {
      id: "pool-1",
      name: "p",
      hostId: "s1",
      kind: "directory",
      path: "/srv/p",
      devices: [],
      capacityBytes: null,
      freeBytes: null,
      createdMs: 1,
    };
    await store.createPool(pool);
    assert.deepEqual(seen.splice(0), [["s1"]]);
    await store.createVolume(volume(pool, ["c1"]));
    assert.deepEqual(seen.splice(0), [["c1", "s1"]]);
    // A grant moves from c1 to c2: both hear of it (c1 loses the volume, c2 gains it).
    await store.updateVolume("vol-1", { grants: volume(pool, ["c2"]).grants });
    assert.deepEqual(seen.splice(0), [["c1", "c2", "s1"]]);
    // An observation of the allocation alone wakes nobody; a state does (and grants wait on it).
    await store.observeVolume("vol-1", { allocatedBytes: 4096 });
    assert.deepEqual(seen.splice(0), []);
    await store.observeVolume("vol-1", { state: "ready" });
    assert.deepEqual(seen.splice(0), [["c2", "s1"]]);
    await store.deleteVolume("vol-1");
    assert.deepEqual(seen.splice(0), [["c2", "s1"]]);
    // A pool's free bytes are an observation; its deletion concerns its host.
    await store.updatePool("pool-1", { freeBytes: 1 });
    await store.deletePool("pool-1");
    assert.deepEqual(seen.splice(0), [["s1"]]);
  });

  test("a domain moved concerns its old host and its new one", async () => {
    const { store, seen } = await watched();
    await store.createDomain(domain("c1"));
    assert.deepEqual(seen.splice(0), [["c1"]]);
    await store.updateDomain("dom-1", { hostId: "c2" });
    assert.deepEqual(seen.splice(0), [["c1", "c2"]]);
    await store.observeDomain("dom-1", null);
    assert.deepEqual(seen.splice(0), [["c2"]]);
    await store.deleteDomain("dom-1");
    assert.deepEqual(seen.splice(0), [["c2"]]);
  });

  test("hosts concern themselves; silent writes nobody; a failed write wakes nobody", async () => {
    const { store, seen } = await watched();
    await store.updateHost("c1", { maintenance: null });
    assert.deepEqual(seen.splice(0), [["c1"]]);
    await store.updateHost("c1", { lastSeenMs: 5 });
    await store.setSetting("k", 1);
    assert.deepEqual(seen.splice(0), []);
    await assert.rejects(store.updateDomain("dom-none", { hostId: "c2" }));
    assert.deepEqual(seen.splice(0), []);
  });
});
