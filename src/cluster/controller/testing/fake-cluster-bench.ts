/**
 * A FAKE cluster for tests that need several compute hosts (placement, maintenance): the real
 * controller and SQLite store, one storage host with the real storage reconciler (a directory
 * pool, a fake AoE target), and compute hosts each with the real compute reconciler over its
 * own FakeHypervisorDriver; agent passes run by the test, every host in turn.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLogger } from "../../../foundation/log.js";
import { FakeHost, FakeHypervisorDriver } from "../../../hypervisor/fake/fake-driver.js";
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
import { Controller } from "../controller.js";
import { BENCH_LEASE } from "./fake-domain-bench.js";

const log = createLogger("test:cluster");

export interface ComputeHostSpec {
  name: string;
  totalMemoryMiB?: number;
  cpus?: number;
}

export async function fakeClusterBench(computeHosts: readonly ComputeHostSpec[]) {
  const controller = new Controller(await openSqliteStore(IN_MEMORY), Date.now, {
    lease: BENCH_LEASE,
  });
  // Writes through the controller's store: it wakes agents and refreshes their desired states.
  const store = controller.store;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-cluster-"));
  const storageHost = await controller.agents.registerHost({
    name: "s1",
    roles: ["storage"],
    exportInterfaces: ["san0"],
  });
  await store.createPool({
    ...{ id: "pool-1", name: "p", hostId: storageHost.id, kind: "directory" },
    ...{ path: `${dir}/pool`, devices: [], capacityBytes: null, freeBytes: null, createdMs: 1 },
  });
  const storage = new StorageReconciler(
    async (pool) => {
      await fs.promises.mkdir(pool.path, { recursive: true });
      return openDirectoryPool(pool.path);
    },
    { apply: () => Promise.resolve() },
    path.join(dir, "aoe"),
    64,
    log,
  );
  const storageLink = new InProcessLink(controller.agents, storageHost.id);
  const disks: GuestDiskAttacher = {
    attach: (_name, disk) =>
      Promise.resolve({ kind: "path", path: `/dev/etherd/e${disk.shelf}.${disk.slot}` }),
    detach: () => undefined,
  };
  const computes = new Map<
    string,
    {
      host: HostRecord;
      fake: FakeHost;
      reconciler: ComputeReconciler;
      link: InProcessLink;
      relay: MigrationRelay;
    }
  >();
  for (const spec of computeHosts) {
    const host = await controller.agents.registerHost({
      name: spec.name,
      roles: ["compute"],
      exportInterfaces: [],
    });
    const fake = new FakeHost({
      bridges: ["xenbr1"],
      totalMemoryMiB: spec.totalMemoryMiB ?? 4096,
      cpus: spec.cpus ?? 2,
    });
    const reconciler = new ComputeReconciler(
      new FakeHypervisorDriver({ host: fake }),
      disks,
      () => Promise.resolve(),
      new ComputeState(path.join(dir, `${spec.name}.json`)),
      log,
    );
    const link = new InProcessLink(
      controller.agents,
      host.id,
      controller.consoles,
      controller.migrationStreams,
    );
    // Live moves (an evacuation) go through the real migration relay and the fake's migration.
    const relay = new MigrationRelay(reconciler, (id) => link.openMigration(id), log);
    reconciler.holds = (id) => relay.holds(id);
    computes.set(spec.name, { host, fake, reconciler, link, relay });
    await controller.networks.create({ hostId: host.id, name: "xenbr1" });
  }
  const mac = (i: number) => `52:54:00:00:01:${i.toString(16).padStart(2, "0")}`;
  /** One pass of every agent: the storage host, then each compute host. */
  const pass = async () => {
    const desired = await storageLink.desired();
    const served = await storage.reconcile(desired, () => undefined);
    await storageLink.report({
      inventory: { hostname: "s1", agentVersion: "test", interfaces: [] },
      pools: served.pools,
      volumes: served.volumes,
      foreignTargets: [],
    });
    let i = 0;
    for (const [name, c] of computes) {
      i++;
      const wanted = await c.link.desired();
      const result = await c.reconciler.reconcile(wanted.networks, wanted.domains);
      c.relay.handle(wanted.migrations ?? [], wanted.domains);
      await c.link.report({
        inventory: {
          hostname: name,
          agentVersion: "test",
          interfaces: [{ ifname: "san0", mac: mac(i), mtu: 1500, up: true }],
          sanInterfaces: ["san0"],
          ...(result.hypervisor ? { hypervisor: result.hypervisor } : {}),
        },
        pools: [],
        volumes: [],
        foreignTargets: [],
        domains: result.domains,
        networks: result.networks,
        migrations: c.relay.observed(),
      });
    }
  };
  /** Passes until `done` holds; generous, for a loaded machine (the fake's boots take ms). */
  const settle = async (what: string, done: () => Promise<boolean>, passesMax = 2000) => {
    for (let i = 0; i < passesMax; i++) {
      await pass();
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.fail(`${what} did not happen`);
  };
  let shelf = 0;
  const volume = async (name: string) => {
    shelf++;
    const record: VolumeRecord = {
      ...{ id: `vol-${name}`, name, kind: "volume", poolId: "pool-1", hostId: storageHost.id },
      ...{ sizeBytes: 2 ** 20, allocatedBytes: 0, sourceId: null, shelf, slot: 0 },
      ...{ exported: true, allow: [], state: "ready", error: null, generation: 1 },
      ...{ allowEveryone: false, grants: [], appliedGeneration: 0, createdMs: 1, updatedMs: 1 },
    };
    await store.createVolume(record);
    return record;
  };
  /** A domain with its own volume, imported (and started on `host` when given). */
  const domain = async (name: string, memoryMiB = 512, host?: string) => {
    await volume(name);
    await controller.domains.importFile(
      `name = "${name}"\nmemory = ${memoryMiB}\nvif = [ 'bridge=xenbr1' ]\ndisk = [ 'phy:/dev/etherd/e${shelf}.0,xvda,w' ]\n`,
      `${name}.cfg`,
    );
    if (host !== undefined) await controller.lifecycle.start(name, "admin", { host });
  };
  /** Where each domain runs, as the agents report: { name: "host/state" }. */
  const whereabouts = async () => {
    const names = new Map([...computes.values()].map((c) => [c.host.id, c.host.name]));
    return Object.fromEntries(
      (await store.listDomains()).map((d) => [
        d.name,
        `${d.hostId ? names.get(d.hostId) : "-"}/${d.observed?.state ?? "-"}`,
      ]),
    );
  };
  await pass(); // every host reports its hypervisor and SAN MAC
  return { store, controller, computes, pass, settle, domain, whereabouts };
}
