/**
 * The contract every Store keeps (STYLE.md habit 3): one shared test file, run unchanged against
 * each implementation (SQLite now, etcd later). It speaks only through the Store interface; what
 * only an implementation can do (reopen its data, fake a newer schema) comes in through hooks.
 *
 * Kept in one file, longer than most, so that the whole promise of the interface reads in one place.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";
import type {
  AuditRecord,
  HostRecord,
  PoolRecord,
  TaskRecord,
  TokenRecord,
  VolumeRecord,
} from "../model.js";
import type { Store } from "./store.js";

export interface StoreUnderTest {
  /** A fresh, empty store on the real clock. */
  store: Store;
  /** Opens the same data again (the test has closed `store`). */
  reopen?: () => Promise<Store>;
  /**
   * Marks the (closed) store's data as written by a schema newer than this code knows, and
   * returns that version; `reopen` must then refuse it.
   */
  fromTheFuture?: () => Promise<number>;
}

/** The paged lists' bounds (listTasks, listAudit), the same for every implementation. */
const LIMIT_DEFAULT = 100;
const LIMIT_MAX = 10_000;

let addressCount = 0;
/** A fresh AoE address per volume, so tests only clash where they mean to. */
function nextAddress(): { shelf: number; slot: number } {
  addressCount++;
  return { shelf: 100 + Math.floor(addressCount / 250), slot: addressCount % 250 };
}

function hostRecord(overrides: Partial<HostRecord> = {}): HostRecord {
  const id = newId("host");
  return {
    id,
    name: `node-${id}`,
    roles: ["storage", "compute"],
    exportInterfaces: ["eth1", "eth2"],
    inventory: {
      hostname: "node1.example.org",
      agentVersion: "0.1.0",
      interfaces: [
        { ifname: "eth1", mac: "52:54:00:12:34:56", mtu: 9000, up: true },
        { ifname: "eth2", mac: "52:54:00:ab:cd:ef", mtu: 1500, up: false },
      ],
    },
    lastSeenMs: 1_700_000_123_456,
    maintenance: {
      sinceMs: 1_700_000_200_000,
      by: "admin",
      taskId: "task-1",
      stoppedDomainIds: ["dom-1"],
    },
    createdMs: 1_700_000_000_000,
    ...overrides,
  };
}

function poolRecord(hostId: string, overrides: Partial<PoolRecord> = {}): PoolRecord {
  const id = newId("pool");
  return {
    id,
    name: `pool-${id}`,
    hostId,
    kind: "block",
    path: "",
    devices: ["/dev/vg0/lv1", "/dev/sdb2"],
    capacityBytes: 8 * 2 ** 40,
    freeBytes: 3 * 2 ** 40 + 512,
    createdMs: 1_700_000_000_001,
    ...overrides,
  };
}

function volumeRecord(pool: PoolRecord, overrides: Partial<VolumeRecord> = {}): VolumeRecord {
  const id = newId("vol");
  return {
    id,
    name: `vol-${id}`,
    kind: "snapshot",
    poolId: pool.id,
    hostId: pool.hostId,
    sizeBytes: 5 * 2 ** 40,
    allocatedBytes: 123_456_789_012,
    sourceId: newId("vol"),
    ...nextAddress(),
    exported: true,
    allow: ["52:54:00:12:34:56", "52:54:00:ab:cd:ef"],
    allowEveryone: false,
    grants: [],
    appliedGeneration: 0,
    state: "failed",
    error: "no space left on device",
    generation: 7,
    createdMs: 1_000,
    updatedMs: 2_000,
    ...overrides,
  };
}

function taskRecord(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: newId("task"),
    kind: "volume.clone",
    state: "failed",
    progress: 0.25,
    message: "copying web: 25%",
    subjectId: newId("vol"),
    result: { volumeId: "vol-1", sizes: [1, 2.5, null], nested: { ok: true, note: "é ✓" } },
    error: { code: "IO_ERROR", message: "read failed at 4096" },
    createdBy: "admin-token",
    createdMs: 1_700_000_000_000,
    updatedMs: 1_700_000_000_500,
    ...overrides,
  };
}

function tokenRecord(overrides: Partial<TokenRecord> = {}): TokenRecord {
  const id = newId("tok");
  return {
    id,
    name: `token-${id}`,
    role: "operator",
    secretHash: `${id}`.padEnd(64, "0"),
    hostId: null,
    createdMs: 1_700_000_000_000,
    expiresMs: 1_800_000_000_000,
    revoked: false,
    ...overrides,
  };
}

function auditEntry(overrides: Partial<AuditRecord> = {}): Omit<AuditRecord, "id"> {
  return {
    timeMs: 1_700_000_000_000,
    actor: "ops",
    role: "operator",
    method: "POST",
    path: "/api/v1/volumes",
    status: 201,
    result: "ok",
    subject: "volume web",
    detail: "size 10 GiB",
    ...overrides,
  };
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), `expected ${code}, got ${String(error)}`);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** Everything a store holds, to show that a refused call changed nothing. */
async function everything(store: Store): Promise<unknown> {
  return {
    hosts: await store.listHosts(),
    pools: await store.listPools(),
    volumes: await store.listVolumes(),
    addresses: await store.usedAddresses(),
    tasks: await store.listTasks({ limit: LIMIT_MAX }),
    tokens: await store.listTokens(),
    audit: await store.listAudit({ limit: LIMIT_MAX }),
  };
}

async function hostWithPool(store: Store): Promise<{ host: HostRecord; pool: PoolRecord }> {
  const host = hostRecord();
  const pool = poolRecord(host.id);
  await store.createHost(host);
  await store.createPool(pool);
  return { host, pool };
}

/**
 * Runs the contract on stores from `open`. A `persistent` store keeps its data across a close, and
 * its harness must give `reopen` and `fromTheFuture` (a store in memory gives neither).
 */
export function storeContract(
  name: string,
  open: () => Promise<StoreUnderTest>,
  options: { persistent: boolean },
): void {
  /** A test on a fresh store, closed afterwards. */
  function storeTest(title: string, body: (store: Store) => Promise<void>): void {
    test(title, async () => {
      const { store } = await open();
      try {
        await body(store);
      } finally {
        await store.close();
      }
    });
  }

  describe(`Store contract: ${name}`, () => {
    storeTest("reports its schema version, a whole number from 1", async (store) => {
      const version = await store.schemaVersion();
      assert.ok(Number.isSafeInteger(version) && version >= 1, `schema version ${version}`);
    });

    storeTest("hosts round-trip every field; found by id and name; listed by name", async (s) => {
      const full = hostRecord({ name: "b-node" });
      const bare = hostRecord({
        name: "a-node",
        roles: [],
        exportInterfaces: [],
        inventory: null,
        lastSeenMs: null,
        maintenance: null,
      });
      await s.createHost(full);
      await s.createHost(bare);
      assert.deepEqual(await s.getHost(full.id), full);
      assert.deepEqual(await s.getHost(bare.id), bare);
      assert.deepEqual(await s.findHostByName("b-node"), full);
      assert.deepEqual(await s.listHosts(), [bare, full]);
      assert.equal(await s.getHost("host-missing"), undefined);
      assert.equal(await s.findHostByName("missing"), undefined);
    });

    storeTest("a taken host name or id is CONFLICT and changes nothing", async (s) => {
      const first = hostRecord({ name: "node1" });
      await s.createHost(first);
      const before = await everything(s);
      await rejectsWith(s.createHost(hostRecord({ name: "node1" })), "CONFLICT", /"node1"/);
      await rejectsWith(s.createHost(hostRecord({ id: first.id })), "CONFLICT", /id/);
      assert.deepEqual(await everything(s), before);
    });

    storeTest("updateHost changes the given fields only, never id or createdMs", async (s) => {
      const host = hostRecord({ name: "node1" });
      const other = hostRecord({ name: "node2" });
      await s.createHost(host);
      await s.createHost(other);
      const patch = { roles: ["compute" as const], inventory: null, lastSeenMs: 42, name: "n1" };
      const forged = { ...patch, id: "host-forged", createdMs: 1 } as Partial<HostRecord>;
      const updated = await s.updateHost(host.id, forged);
      assert.deepEqual(updated, { ...host, ...patch });
      assert.deepEqual(await s.getHost(host.id), updated);
      assert.equal(await s.getHost("host-forged"), undefined);
      await rejectsWith(s.updateHost(host.id, { name: "node2" }), "CONFLICT", /"node2"/);
      assert.deepEqual(await s.getHost(host.id), updated);
      assert.deepEqual(await s.getHost(other.id), other);
    });

    storeTest("update of a missing id is NOT_FOUND, for every record type", async (s) => {
      await rejectsWith(s.updateHost("host-x", { name: "x" }), "NOT_FOUND", /host-x/);
      await rejectsWith(s.updatePool("pool-x", { name: "x" }), "NOT_FOUND", /pool-x/);
      await rejectsWith(s.updateVolume("vol-x", { name: "x" }), "NOT_FOUND", /vol-x/);
      await rejectsWith(s.updateVolume("vol-x", { name: "x" }, 1), "NOT_FOUND", /vol-x/);
      await rejectsWith(s.updateTask("task-x", { progress: 1 }), "NOT_FOUND", /task-x/);
      await rejectsWith(s.updateToken("tok-x", { revoked: true }), "NOT_FOUND", /tok-x/);
      assert.deepEqual(await s.listHosts(), []);
    });

    storeTest("pools round-trip; filtered by host; a name is unique per host only", async (s) => {
      const { host, pool } = await hostWithPool(s);
      const other = hostRecord();
      await s.createHost(other);
      const dir = poolRecord(host.id, {
        name: "a-dir",
        kind: "directory",
        path: "/srv/etherplane/pool",
        devices: [],
        capacityBytes: null,
        freeBytes: null,
      });
      const sameName = poolRecord(other.id, { name: pool.name });
      await s.createPool(dir);
      await s.createPool(sameName);
      assert.deepEqual(await s.getPool(pool.id), pool);
      assert.deepEqual(await s.getPool(dir.id), dir);
      assert.deepEqual(await s.listPools({ hostId: host.id }), [dir, pool]);
      assert.deepEqual(await s.listPools({ hostId: other.id }), [sameName]);
      assert.equal((await s.listPools()).length, 3);
      assert.equal(await s.getPool("pool-missing"), undefined);

      const before = await everything(s);
      const clash = poolRecord(host.id, { name: pool.name });
      await rejectsWith(s.createPool(clash), "CONFLICT", new RegExp(`"${pool.name}"`));
      await rejectsWith(s.updatePool(dir.id, { name: pool.name }), "CONFLICT");
      await rejectsWith(s.createPool(poolRecord("host-missing")), "NOT_FOUND", /host-missing/);
      assert.deepEqual(await everything(s), before);

      const updated = await s.updatePool(pool.id, { capacityBytes: 10, freeBytes: 0 });
      assert.deepEqual(updated, { ...pool, capacityBytes: 10, freeBytes: 0 });
      assert.deepEqual(await s.getPool(pool.id), updated);
    });

    storeTest("deletePool is CONFLICT while a volume uses the pool", async (s) => {
      const { pool } = await hostWithPool(s);
      const volume = volumeRecord(pool, { name: "web" });
      await s.createVolume(volume);
      await rejectsWith(s.deletePool(pool.id), "CONFLICT", /"web"/);
      assert.deepEqual(await s.getPool(pool.id), pool);
      await s.deleteVolume(volume.id);
      await s.deletePool(pool.id);
      assert.equal(await s.getPool(pool.id), undefined);
      await s.deletePool(pool.id); // deleting what is gone changes nothing
      assert.deepEqual(await s.listPools(), []);
    });

    storeTest("volumes round-trip every field; filtered; their addresses listed", async (s) => {
      const { host, pool } = await hostWithPool(s);
      const other = await hostWithPool(s);
      // An agent's error text may hold anything: JSON built by the store must escape it all.
      const error = 'quote " back\\slash \n nul \u0000 tab \t \u001f é 💾 \u2028 </x>';
      const full = volumeRecord(pool, { name: "b-web", error });
      const bare = volumeRecord(pool, {
        name: "a-db",
        kind: "volume",
        allocatedBytes: null,
        sourceId: null,
        exported: false,
        allow: [],
        state: "ready",
        error: null,
        ...{ shelf: 0, slot: 0 },
      });
      const clone = volumeRecord(other.pool, { name: "c-clone", sourceId: full.id });
      const top = volumeRecord(other.pool, { name: "d-top", shelf: 65534, slot: 254 });
      for (const v of [full, bare, clone, top]) await s.createVolume(v);
      assert.deepEqual(await s.getVolume(full.id), full);
      assert.deepEqual(await s.getVolume(bare.id), bare);
      assert.deepEqual(await s.findVolumeByName("b-web"), full);
      assert.equal(await s.getVolume("vol-missing"), undefined);
      assert.equal(await s.findVolumeByName("missing"), undefined);
      assert.deepEqual(await s.listVolumes(), [bare, full, clone, top]);
      assert.deepEqual(await s.listVolumes({ hostId: host.id }), [bare, full]);
      assert.deepEqual(await s.listVolumes({ poolId: other.pool.id }), [clone, top]);
      assert.deepEqual(await s.listVolumes({ sourceId: full.id }), [clone]);
      assert.deepEqual(await s.listVolumes({ hostId: host.id, sourceId: full.id }), []);
      // Pages by name: after a name, at most `limit`, with or without other conditions.
      assert.deepEqual(await s.listVolumes({ limit: 2 }), [bare, full]);
      assert.deepEqual(await s.listVolumes({ afterName: "b-web", limit: 1 }), [clone]);
      assert.deepEqual(await s.listVolumes({ afterName: "b-web" }), [clone, top]);
      assert.deepEqual(await s.listVolumes({ afterName: "a", poolId: other.pool.id }), [
        clone,
        top,
      ]);
      assert.deepEqual(await s.listVolumes({ afterName: "d-top" }), []);
      await rejectsWith(s.listVolumes({ limit: 0 }), "INVALID_ARGUMENT", /limit/);
      for (const filter of [
        {},
        { hostId: host.id },
        { sourceId: full.id },
        { poolId: "none" },
        { afterName: "a-db", limit: 2 },
      ])
        assert.deepEqual(JSON.parse(await s.listVolumesJson(filter)), await s.listVolumes(filter));
      const byAddress = (a: { shelf: number; slot: number }, b: typeof a): number =>
        a.shelf - b.shelf || a.slot - b.slot;
      assert.deepEqual(
        (await s.usedAddresses()).sort(byAddress),
        [full, bare, clone, top].map(({ shelf, slot }) => ({ shelf, slot })).sort(byAddress),
      );
    });

    storeTest("a taken volume name or AoE address is CONFLICT and changes nothing", async (s) => {
      const { pool } = await hostWithPool(s);
      const web = volumeRecord(pool, { name: "web", shelf: 7, slot: 3 });
      const db = volumeRecord(pool, { name: "db" });
      await s.createVolume(web);
      await s.createVolume(db);
      const before = await everything(s);
      const address = { shelf: 7, slot: 3 };
      await rejectsWith(s.createVolume(volumeRecord(pool, { name: "web" })), "CONFLICT", /"web"/);
      await rejectsWith(s.createVolume(volumeRecord(pool, address)), "CONFLICT", /e7\.3/);
      await rejectsWith(s.createVolume({ ...db, name: "x", ...nextAddress() }), "CONFLICT");
      await rejectsWith(s.updateVolume(db.id, { name: "web" }), "CONFLICT", /"web"/);
      await rejectsWith(s.updateVolume(db.id, address), "CONFLICT", /e7\.3/);
      assert.deepEqual(await everything(s), before);
    });

    storeTest("concurrent creates of one name: exactly one wins", async (s) => {
      const { pool } = await hostWithPool(s);
      const attempts = Array.from({ length: 8 }, () => volumeRecord(pool, { name: "same" }));
      const outcomes = await Promise.allSettled(attempts.map((v) => s.createVolume(v)));
      assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
      for (const o of outcomes) {
        if (o.status === "rejected") assert.ok(isEtherplaneError(o.reason, "CONFLICT"));
      }
      assert.equal((await s.listVolumes()).length, 1);
    });

    storeTest("updateVolume applies the patch, bumps the generation and updatedMs", async (s) => {
      const { pool } = await hostWithPool(s);
      const volume = volumeRecord(pool);
      await s.createVolume(volume);
      const patch = {
        state: "ready" as const,
        error: null,
        allow: ["52:54:00:00:00:01"],
        exported: false,
        allocatedBytes: 4096,
        ...nextAddress(),
      };
      const startMs = Date.now();
      const first = await s.updateVolume(volume.id, { ...patch, generation: 1 });
      const { updatedMs } = first;
      assert.ok(updatedMs >= startMs && updatedMs <= Date.now(), `updatedMs ${updatedMs}`);
      assert.deepEqual(first, { ...volume, ...patch, generation: 8, updatedMs });
      assert.deepEqual(await s.getVolume(volume.id), first);
      // The generation is the store's alone; a caller's clock may stamp updatedMs.
      const second = await s.updateVolume(volume.id, { generation: 100, updatedMs: 5_000 }, 8);
      assert.deepEqual(second, { ...first, generation: 9, updatedMs: 5_000 });
    });

    storeTest("provisionedBytes sums the sizes of a pool's volumes", async (s) => {
      const { pool } = await hostWithPool(s);
      assert.equal(await s.provisionedBytes(pool.id), 0);
      await s.createVolume(volumeRecord(pool, { sizeBytes: 2 ** 40 }));
      await s.createVolume(volumeRecord(pool, { sizeBytes: 4096, ...nextAddress() }));
      assert.equal(await s.provisionedBytes(pool.id), 2 ** 40 + 4096);
      assert.equal(await s.provisionedBytes("pool-elsewhere"), 0);
    });

    storeTest(
      "observeVolume records what an agent saw without bumping the generation",
      async (s) => {
        const { pool } = await hostWithPool(s);
        const volume = volumeRecord(pool);
        await s.createVolume(volume);
        const seen = await s.observeVolume(volume.id, {
          state: "ready",
          allocatedBytes: 8192,
          error: null,
        });
        assert.equal(seen.generation, volume.generation, "the desired state did not change");
        assert.equal(seen.state, "ready");
        assert.equal(seen.allocatedBytes, 8192);
        assert.deepEqual(await s.getVolume(volume.id), seen);
        await rejectsWith(s.observeVolume("vol-missing", { allocatedBytes: 1 }), "NOT_FOUND");
      },
    );

    storeTest("updateVolume with a stale expectedGeneration is CONFLICT", async (s) => {
      const { pool } = await hostWithPool(s);
      const volume = volumeRecord(pool, { generation: 1 });
      await s.createVolume(volume);
      const fresh = await s.updateVolume(volume.id, { sizeBytes: 2 ** 41 }, 1);
      assert.equal(fresh.generation, 2);
      await rejectsWith(s.updateVolume(volume.id, { sizeBytes: 1 }, 1), "CONFLICT", /generation/);
      await rejectsWith(s.updateVolume(volume.id, { sizeBytes: 1 }, 3), "CONFLICT");
      assert.deepEqual(await s.getVolume(volume.id), fresh);
    });

    storeTest("a volume must name an existing pool, on that pool's host", async (s) => {
      const { pool } = await hostWithPool(s);
      const other = await hostWithPool(s);
      const before = await everything(s);
      const orphan = volumeRecord({ ...pool, id: "pool-missing" });
      await rejectsWith(s.createVolume(orphan), "NOT_FOUND", /pool-missing/);
      await rejectsWith(
        s.createVolume(volumeRecord({ ...pool, hostId: other.host.id })),
        "INVALID_ARGUMENT",
      );
      assert.deepEqual(await everything(s), before);
    });

    storeTest("deleteVolume frees its name and address; a second delete is harmless", async (s) => {
      const { pool } = await hostWithPool(s);
      const volume = volumeRecord(pool, { name: "web" });
      await s.createVolume(volume);
      await s.deleteVolume(volume.id);
      await s.deleteVolume(volume.id);
      assert.equal(await s.getVolume(volume.id), undefined);
      assert.deepEqual(await s.usedAddresses(), []);
      const again = volumeRecord(pool, { name: "web", shelf: volume.shelf, slot: volume.slot });
      await s.createVolume(again);
      assert.deepEqual(await s.findVolumeByName("web"), again);
    });

    storeTest("tasks round-trip JSON; listed newest first, filtered and limited", async (s) => {
      const subjectId = newId("vol");
      const tasks = [
        taskRecord({ createdMs: 3_000, subjectId, state: "running", error: null }),
        taskRecord({ createdMs: 1_000, subjectId, result: null }),
        taskRecord({ createdMs: 5_000, subjectId: null, result: ["a", 1, { b: [] }] }),
        taskRecord({ createdMs: 2_000, state: "queued", progress: 0, result: undefined }),
        taskRecord({ createdMs: 4_000, subjectId, state: "succeeded", progress: 1, result: "ok" }),
      ];
      for (const t of tasks) await s.createTask(t);
      for (const t of tasks) assert.deepEqual(await s.getTask(t.id), t);
      const newestFirst = [...tasks].sort((a, b) => b.createdMs - a.createdMs);
      assert.deepEqual(await s.listTasks(), newestFirst);
      assert.deepEqual(await s.listTasks({ limit: 2 }), newestFirst.slice(0, 2));
      assert.deepEqual(await s.listTasks({ state: "failed" }), [tasks[2], tasks[1]]);
      assert.deepEqual(await s.listTasks({ subjectId }), [tasks[4], tasks[0], tasks[1]]);
      assert.deepEqual(await s.listTasks({ subjectId, state: "running", limit: 1 }), [tasks[0]]);
      assert.equal(await s.getTask("task-missing"), undefined);
      await rejectsWith(s.createTask({ ...taskRecord(), id: tasks[0]!.id }), "CONFLICT");

      const done = { state: "succeeded" as const, progress: 1, result: { n: 1 }, error: null };
      const updated = await s.updateTask(tasks[0]!.id, { ...done, updatedMs: 9_000 });
      assert.deepEqual(updated, { ...tasks[0], ...done, updatedMs: 9_000 });
      assert.deepEqual(await s.getTask(tasks[0]!.id), updated);
    });

    storeTest("paged lists return 100 by default, at most 10,000", async (s) => {
      for (let i = 0; i < LIMIT_DEFAULT + 1; i++) {
        await s.createTask(taskRecord({ createdMs: i }));
        await s.appendAudit(auditEntry({ timeMs: i }));
      }
      const tasks = await s.listTasks();
      assert.equal(tasks.length, LIMIT_DEFAULT);
      assert.equal(tasks[0]?.createdMs, LIMIT_DEFAULT);
      assert.equal((await s.listTasks({ limit: LIMIT_MAX })).length, LIMIT_DEFAULT + 1);
      const audit = await s.listAudit();
      assert.equal(audit.length, LIMIT_DEFAULT);
      assert.equal(audit.at(-1)?.timeMs, LIMIT_DEFAULT);
      for (const limit of [0, -1, 1.5, LIMIT_MAX + 1, Number.NaN]) {
        await rejectsWith(s.listTasks({ limit }), "INVALID_ARGUMENT", /limit/);
        await rejectsWith(s.listAudit({ limit }), "INVALID_ARGUMENT", /limit/);
      }
      await rejectsWith(s.listAudit({ afterId: -1 }), "INVALID_ARGUMENT", /afterId/);
    });

    storeTest("tokens round-trip; found by secret hash; a reused secret is CONFLICT", async (s) => {
      const host = hostRecord();
      await s.createHost(host);
      const agent = tokenRecord({ role: "agent", hostId: host.id, expiresMs: null });
      const admin = tokenRecord({ role: "admin", createdMs: 1 });
      const join = tokenRecord({ role: "join", revoked: true, createdMs: 2 });
      for (const t of [agent, admin, join]) await s.createToken(t);
      assert.deepEqual(await s.findTokenBySecretHash(agent.secretHash), agent);
      assert.equal(await s.findTokenBySecretHash("0".repeat(64)), undefined);
      assert.deepEqual(await s.listTokens(), [admin, join, agent]);

      const before = await everything(s);
      await rejectsWith(s.createToken(tokenRecord({ secretHash: admin.secretHash })), "CONFLICT");
      await rejectsWith(s.createToken(tokenRecord({ hostId: "host-x" })), "NOT_FOUND", /host-x/);
      assert.deepEqual(await everything(s), before);

      const revoked = await s.updateToken(admin.id, { revoked: true });
      assert.deepEqual(revoked, { ...admin, revoked: true });
      assert.deepEqual(await s.findTokenBySecretHash(admin.secretHash), revoked);
    });

    storeTest("audit: increasing ids; the newest `limit`, or those after `afterId`", async (s) => {
      const entries = [
        auditEntry(),
        auditEntry({ result: "error", status: 409, subject: null, detail: null }),
        auditEntry({ actor: "anonymous", method: "GET", path: "/api/v1/hosts", status: 401 }),
        auditEntry({ timeMs: 1 }),
      ];
      const ids: number[] = [];
      for (const e of entries) ids.push(await s.appendAudit(e));
      for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `ids ${ids.join()}`);
      const stored = entries.map((e, i) => ({ id: ids[i]!, ...e }));
      assert.deepEqual(await s.listAudit(), stored);
      assert.deepEqual(await s.listAudit({ limit: 2 }), stored.slice(2));
      assert.deepEqual(await s.listAudit({ afterId: 0, limit: 3 }), stored.slice(0, 3));
      assert.deepEqual(await s.listAudit({ afterId: ids[1]! }), stored.slice(2));
      assert.deepEqual(await s.listAudit({ afterId: ids[3]! }), []);
    });

    storeTest(
      "audit retention: entries older than the age go, then the oldest over the row cap",
      async (s) => {
        const ids: number[] = [];
        for (let i = 0; i < 6; i++) ids.push(await s.appendAudit(auditEntry({ timeMs: 1000 * i })));
        // Older than 2000: the first two go; the cap of 10 keeps the rest.
        assert.equal(await s.pruneAudit({ olderThanMs: 2000, rowsMax: 10 }), 2);
        assert.deepEqual(
          (await s.listAudit()).map((e) => e.id),
          ids.slice(2),
        );
        // A cap of 3: the oldest of the four left goes, whatever its age.
        assert.equal(await s.pruneAudit({ olderThanMs: 0, rowsMax: 3 }), 1);
        assert.deepEqual(
          (await s.listAudit()).map((e) => e.id),
          ids.slice(3),
        );
        assert.equal(
          await s.pruneAudit({ olderThanMs: 0, rowsMax: 3 }),
          0,
          "nothing more to prune",
        );
        const next = await s.appendAudit(auditEntry({ timeMs: 9000 }));
        assert.ok(next > ids.at(-1)!, "ids are not reused after pruning");
        await rejectsWith(
          s.pruneAudit({ olderThanMs: 0, rowsMax: 0 }),
          "INVALID_ARGUMENT",
          /rowsMax/,
        );
      },
    );

    storeTest(
      "events: bounded at each append (the oldest go), newest or after a point, oldest first",
      async (s) => {
        const event = (i: number) => ({
          timeMs: 1000 * i,
          kind: i % 2 ? "domain.started" : "host.maintenance",
          subject: `d${i}`,
          message: `event ${i}`,
          fields: { host: "h1", n: i, live: i % 2 === 0, none: null },
        });
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push(await s.appendEvent(event(i), 3));
        const kept = await s.listEvents();
        assert.deepEqual(
          kept.map((e) => e.id),
          ids.slice(2),
          "only the newest 3 are kept",
        );
        assert.deepEqual(kept[0], { id: ids[2], ...event(2) }, "every field round-trips");
        assert.deepEqual(
          (await s.listEvents({ afterId: ids[2]! })).map((e) => e.id),
          ids.slice(3),
        );
        assert.deepEqual(
          (await s.listEvents({ sinceMs: 4000 })).map((e) => e.subject),
          ["d4"],
        );
        assert.deepEqual(
          (await s.listEvents({ limit: 1 })).map((e) => e.subject),
          ["d4"],
          "without a point: the newest",
        );
        assert.deepEqual(
          (await s.listEvents({ afterId: 0, limit: 1 })).map((e) => e.subject),
          ["d2"],
          "from a point: the oldest after it",
        );
        const next = await s.appendEvent(event(9), 3);
        assert.ok(next > ids.at(-1)!, "ids are not reused");
        await rejectsWith(s.appendEvent(event(1), 0), "INVALID_ARGUMENT", /rowsMax/);
        await rejectsWith(s.listEvents({ limit: 0 }), "INVALID_ARGUMENT", /limit/);
      },
    );

    storeTest("settings: JSON values by key, replaced by a second set", async (s) => {
      assert.deepEqual(await s.listSettings(), {});
      await s.setSetting("cpu_overcommit", 4);
      await s.setSetting("memory_overcommit", 1.5);
      await s.setSetting("cpu_overcommit", 2.5);
      assert.deepEqual(await s.listSettings(), { cpu_overcommit: 2.5, memory_overcommit: 1.5 });
    });

    test("a closed store refuses calls with CLOSED; closing twice is harmless", async () => {
      const { store } = await open();
      await store.close();
      await store.close();
      await rejectsWith(store.listHosts(), "CLOSED");
      await rejectsWith(store.createHost(hostRecord()), "CLOSED");
    });

    if (options.persistent) persistenceTests(open);
  });
}

function persistenceTests(open: () => Promise<StoreUnderTest>): void {
  /** The hooks of a persistent store's harness, which must be there. */
  async function openPersistent(): Promise<Required<StoreUnderTest>> {
    const { store, reopen, fromTheFuture } = await open();
    assert.ok(
      reopen && fromTheFuture,
      "a persistent store's harness gives reopen and fromTheFuture",
    );
    return { store, reopen, fromTheFuture };
  }

  test("reopening keeps every record and the schema version", async () => {
    const { store, reopen } = await openPersistent();
    const { host, pool } = await hostWithPool(store);
    await store.createVolume(volumeRecord(pool));
    await store.createTask(taskRecord({ result: undefined }));
    await store.createToken(tokenRecord({ hostId: host.id }));
    const lastId = await store.appendAudit(auditEntry());
    const version = await store.schemaVersion();
    const before = await everything(store);
    await store.close();

    const again = await reopen();
    try {
      assert.deepEqual(await everything(again), before);
      assert.equal(await again.schemaVersion(), version);
      assert.ok((await again.appendAudit(auditEntry())) > lastId);
    } finally {
      await again.close();
    }
  });

  test("a store written by a newer schema is refused, naming both versions", async () => {
    const { store, reopen, fromTheFuture } = await openPersistent();
    const version = await store.schemaVersion();
    await store.close();
    const future = await fromTheFuture();
    assert.ok(future > version, `future version ${future}`);
    await rejectsWith(reopen(), "UNAVAILABLE", new RegExp(`${future}[^]*${version}`));
  });
}
