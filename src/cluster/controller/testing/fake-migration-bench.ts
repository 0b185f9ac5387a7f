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
import { FakeHost, FakeHypervisorDriver } from "../../../hypervisor/fake/fake-driver.js";
import type { TargetConfig } from "../../../aoe/target/config.js";
import { openDirectoryPool } from "../../../storage/pool/directory-pool.js";
import { ComputeReconciler } from "../../agent/compute/compute-reconciler.js";
import { ComputeState } from "../../agent/compute/compute-state.js";
import type { GuestDiskAttacher } from "../../agent/compute/guest-disks.js";
import { MigrationRelay } from "../../agent/compute/migration-relay.js";
import { InProcessLink } from "../../agent/controller-link.js";
import { StorageReconciler } from "../../agent/reconciler.js";
import type { HostRecord, VolumeRecord } from "../../model.js";
import { IN_MEMORY } from "../../store/sqlite/open-database.js";
import { openSqliteStore } from "../../store/sqlite/sqlite-store.js";
import { Controller, type ControllerLimits } from "../controller.js";
import { BENCH_LEASE } from "./fake-domain-bench.js";

const log = createLogger("test:migration");

export interface FakeComputeHost {
  name: string;
  record: HostRecord;
  mac: string;
  fakeHost: FakeHost;
  driver: FakeHypervisorDriver;
  relay: MigrationRelay;
  /** Domains whose disks are attached here now. */
  attached: Set<string>;
  /** A pass of this host's agent; `down` hosts make none. */
  pass(): Promise<void>;
  down: boolean;
}

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
  /** Each agent's link, re-made for a restarted controller. */
  const relinks: Array<() => void> = [];
  const storageHost = await controller.agents.registerHost({
    name: "sto",
    roles: ["storage"],
    exportInterfaces: ["san0"],
  });
  await store.createPool({
    ...{ id: "pool-1", name: "p", hostId: storageHost.id, kind: "directory", path: `${dir}/pool` },
    ...{ devices: [], capacityBytes: null, freeBytes: null, createdMs: 1 },
  });
  const targetConfigs: TargetConfig[] = [];
  const storage = new StorageReconciler(
    async (pool) => {
      await fs.promises.mkdir(pool.path, { recursive: true });
      return openDirectoryPool(pool.path);
    },
    {
      apply: (config) => {
        targetConfigs.push(config);
        return Promise.resolve();
      },
    },
    path.join(dir, "aoe"),
    64,
    log,
  );
  let storageLink = new InProcessLink(controller.agents, storageHost.id);
  relinks.push(() => (storageLink = new InProcessLink(controller.agents, storageHost.id)));
  const storagePass = async () => {
    const served = await storage.reconcile(await storageLink.desired(), () => undefined);
    await storageLink.report({
      inventory: { hostname: "sto", agentVersion: "test", interfaces: [] },
      pools: served.pools,
      volumes: served.volumes,
      foreignTargets: [],
    });
  };
  /** The MACs the target serves `shelf`.0 to now; undefined: not exported. */
  const servedMask = (shelf: number) =>
    targetConfigs.at(-1)?.exports.find((e) => e.shelf === shelf && e.slot === 0)?.macMask;

  const computeHost = async (
    name: string,
    mac: string,
    memoryMiB: number,
    bridges: string[],
  ): Promise<FakeComputeHost> => {
    const record = await controller.agents.registerHost({
      name,
      roles: ["compute"],
      exportInterfaces: [],
    });
    const fakeHost = new FakeHost({ bridges, totalMemoryMiB: memoryMiB, cpus: 2 });
    const driver = new FakeHypervisorDriver({ host: fakeHost });
    const attached = new Set<string>();
    const disks: GuestDiskAttacher = {
      attach: (domainName, disk) => {
        attached.add(domainName);
        return Promise.resolve({ kind: "path", path: `/dev/etherd/e${disk.shelf}.${disk.slot}` });
      },
      detach: (domainName) => void attached.delete(domainName),
    };
    const reconciler = new ComputeReconciler(
      driver,
      disks,
      () => Promise.resolve(),
      new ComputeState(path.join(dir, `${name}.json`)),
      log,
    );
    const linkTo = (c: Controller) =>
      new InProcessLink(c.agents, record.id, c.consoles, c.migrationStreams);
    let link = linkTo(controller);
    relinks.push(() => (link = linkTo(controller)));
    const relay = new MigrationRelay(reconciler, (id) => link.openMigration(id), log);
    reconciler.holds = (id) => relay.holds(id);
    const host: FakeComputeHost = {
      ...{ name, record, mac, fakeHost, driver, relay, attached, down: false },
      pass: async () => {
        if (host.down) return;
        const desired = await link.desired();
        const result = await reconciler.reconcile(desired.networks, desired.domains);
        relay.handle(desired.migrations ?? [], desired.domains);
        await link.report({
          inventory: {
            hostname: name,
            agentVersion: "test",
            interfaces: [{ ifname: "san0", mac, mtu: 1500, up: true }],
            sanInterfaces: ["san0"],
            ...(result.hypervisor ? { hypervisor: result.hypervisor } : {}),
          },
          pools: [],
          volumes: [],
          foreignTargets: [],
          domains: result.domains,
          networks: result.networks,
          migrations: relay.observed(),
          guests: result.guests,
        });
      },
    };
    await controller.networks.create({ hostId: record.id, name: "xenbr1" });
    return host;
  };
  const a = await computeHost("A", "52:54:00:00:0a:01", 4096, ["xenbr1"]);
  const b = await computeHost(
    "B",
    "52:54:00:00:0b:01",
    options.memoryB ?? 4096,
    options.bridgesB ?? ["xenbr1"],
  );
  const volume = async (name: string, shelf: number) => {
    const record: VolumeRecord = {
      ...{ id: `vol-${name}`, name, kind: "volume", poolId: "pool-1", hostId: storageHost.id },
      ...{ sizeBytes: 2 ** 30, allocatedBytes: 0, sourceId: null, shelf, slot: 0 },
      ...{ exported: true, allow: [], state: "ready", error: null, generation: 1 },
      ...{ allowEveryone: false, grants: [], appliedGeneration: 0 },
      ...{ createdMs: 1, updatedMs: 1 },
    };
    await store.createVolume(record);
    return record;
  };
  const passAll = async () => {
    await storagePass();
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
    for (const relink of relinks) relink();
    return controller;
  };
  return {
    get store() {
      return store;
    },
    get controller() {
      return controller;
    },
    ...{ a, b, volume, passAll, settle, domain, servedMask, restartController },
  };
}
