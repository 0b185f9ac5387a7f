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
import { IN_MEMORY } from "../../store/sqlite/open-database.js";
import { openSqliteStore } from "../../store/sqlite/sqlite-store.js";
import { volumeRecord } from "../../testing/records.js";
import { Controller } from "../controller.js";
import { BENCH_LEASE } from "./fake-domain-bench.js";
import { fakeComputeHost, type FakeComputeHost } from "./fake-compute-host.js";
import { fakeStorageHost } from "./fake-storage.js";

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
  const storageHost = await fakeStorageHost(() => controller, "s1", dir, log);
  const computes = new Map<string, FakeComputeHost>();
  const mac = (i: number) => `52:54:00:00:01:${i.toString(16).padStart(2, "0")}`;
  for (const spec of computeHosts) {
    const host = await fakeComputeHost(
      () => controller,
      { ...spec, mac: mac(computes.size + 1) },
      dir,
      log,
    );
    computes.set(spec.name, host);
  }
  /** One pass of every agent: the storage host, then each compute host. */
  const pass = async () => {
    await storageHost.pass();
    for (const host of computes.values()) await host.pass();
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
    const record = volumeRecord({
      ...{ id: `vol-${name}`, name, poolId: "pool-1", hostId: storageHost.record.id, shelf },
    });
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
    const names = new Map([...computes.values()].map((c) => [c.record.id, c.name]));
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
