/**
 * A FAKE bench for live migration's control flow (migration.fake-driver.test.ts): the real
 * controller, SQLite store, storage reconciler (its target a FAKE that records each config),
 * two compute hosts each with the real compute reconciler and migration relay over a
 * FakeHypervisorDriver, their streams through the real MigrationBroker (in-process links).
 * Agent passes are run by the test. `restartController()` is a kill -9 of the controller and a
 * start on the same SQLite file: its memory (sessions, streams) is lost, the store kept.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLogger } from "../../../foundation/log.js";
import { IN_MEMORY } from "../../store/sqlite/open-database.js";
import { openSqliteStore } from "../../store/sqlite/sqlite-store.js";
import { volumeRecord } from "../../testing/records.js";
import { Controller, type ControllerLimits } from "../controller.js";
import { BENCH_LEASE } from "./fake-domain-bench.js";
import { fakeComputeHost } from "./fake-compute-host.js";
import { fakeStorageHost } from "./fake-storage.js";

export type { FakeComputeHost } from "./fake-compute-host.js";

const log = createLogger("test:migration");

export async function fakeMigrationBench(
  options: {
    memoryB?: number;
    bridgesB?: string[];
    /** A SQLite file under the bench's folder rather than memory (for restartController). */
    onDisk?: boolean;
    limits?: Partial<ControllerLimits>;
  } = {},
) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-fake-mig-"));
  const storeFile = options.onDisk ? path.join(dir, "controller.db") : IN_MEMORY;
  let controller = new Controller(await openSqliteStore(storeFile), Date.now, {
    lease: BENCH_LEASE,
    ...options.limits,
  });
  // Writes through the controller's store: it wakes agents and refreshes their desired states.
  let store = controller.store;
  const storageHost = await fakeStorageHost(() => controller, "sto", dir, log);
  const computeHost = (name: string, mac: string, totalMemoryMiB: number, bridges: string[]) =>
    fakeComputeHost(() => controller, { name, mac, totalMemoryMiB, bridges }, dir, log);
  const a = await computeHost("A", "52:54:00:00:0a:01", 4096, ["xenbr1"]);
  const b = await computeHost(
    "B",
    "52:54:00:00:0b:01",
    options.memoryB ?? 4096,
    options.bridgesB ?? ["xenbr1"],
  );
  const volume = async (name: string, shelf: number) => {
    const record = volumeRecord({
      ...{ id: `vol-${name}`, name, poolId: "pool-1", hostId: storageHost.record.id, shelf },
      sizeBytes: 2 ** 30,
    });
    await store.createVolume(record);
    return record;
  };
  const passAll = async () => {
    await storageHost.pass();
    await a.pass();
    await b.pass();
  };
  /** Passes until `done` holds. */
  const settle = async (what: string, done: () => Promise<boolean>, passesMax = 400) => {
    for (let i = 0; i < passesMax; i++) {
      await passAll();
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.fail(`${what} did not happen`);
  };
  const domain = (name: string) => controller.domains.get(name);
  await passAll();
  await passAll();
  /**
   * kill -9 of the controller, then a start on the same file: the old one's streams break, its
   * store handle closes (its background work fails from then on), the agents talk to the new one.
   */
  const restartController = async () => {
    assert.ok(options.onDisk, "restartController needs onDisk");
    controller.migrationStreams.closeAll();
    const old = controller;
    await old.store.close();
    controller = new Controller(await openSqliteStore(storeFile), Date.now, {
      lease: BENCH_LEASE,
      ...options.limits,
    });
    store = controller.store;
    return controller;
  };
  return {
    get store() {
      return store;
    },
    get controller() {
      return controller;
    },
    ...{ a, b, volume, passAll, settle, domain, restartController },
    servedMask: storageHost.servedMask,
  };
}

/** The bench with a domain "web1" (256 MiB, its disk the volume e1.0) running on A. */
export async function webRunningOnA(options: Parameters<typeof fakeMigrationBench>[0] = {}) {
  const bench = await fakeMigrationBench(options);
  await bench.volume("web1", 1);
  await bench.controller.domains.importFile(
    `name = "web1"\nmemory = 256\nvif = [ 'bridge=xenbr1' ]\ndisk = [ 'phy:/dev/etherd/e1.0,xvda,w' ]\n`,
    "web1.cfg",
  );
  await bench.controller.lifecycle.start("web1", "admin", { host: "A" });
  await bench.settle(
    "web1 running on A",
    async () => (await bench.domain("web1")).observed?.state === "running",
  );
  return bench;
}
