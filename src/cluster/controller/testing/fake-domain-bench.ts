/**
 * A FAKE compute bench for the domain control loop's tests (domains*.fake-driver.test.ts): the
 * real controller and SQLite store, the real compute reconciler and console relay over a
 * FakeHypervisorDriver, and an agent pass run by hand so every step is deterministic.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isEtherplaneError, type ErrorCode } from "../../../foundation/errors.js";
import { createLogger } from "../../../foundation/log.js";
import {
  FakeHost,
  FakeHypervisorDriver,
  type FakeHostOptions,
} from "../../../hypervisor/fake/fake-driver.js";
import { ComputeReconciler } from "../../agent/compute/compute-reconciler.js";
import { ComputeState } from "../../agent/compute/compute-state.js";
import { ConsoleRelay } from "../../agent/compute/console-relay.js";
import type { GuestDiskAttacher } from "../../agent/compute/guest-disks.js";
import { InProcessLink } from "../../agent/controller-link.js";
import type { DesiredNetwork } from "../../agent-protocol.js";
import type { DomainRecord, HostRecord, VolumeRecord } from "../../model.js";
import { IN_MEMORY } from "../../store/sqlite/open-database.js";
import { openSqliteStore } from "../../store/sqlite/sqlite-store.js";
import { volumeRecord } from "../../testing/records.js";
import { Controller } from "../controller.js";
import { fakeStorage } from "./fake-storage.js";

const log = createLogger("test:domains");
/** The compute host's SAN NIC: what a domain's volume is opened to. */
export const HOST_MAC = "52:54:00:00:00:01";

export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), `expected ${code}, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

/**
 * A controller and one compute + storage host whose agent passes are run by the test: the real
 * storage reconciler (a directory pool in a temporary folder) hands its exports to a FAKE target
 * that records each config it is given.
 */
export async function fakeDomainBench(hostOptions: FakeHostOptions = {}) {
  const controller = new Controller(await openSqliteStore(IN_MEMORY), Date.now, {
    lease: BENCH_LEASE,
  });
  // Writes through the controller's store: it wakes agents and refreshes their desired states.
  const store = controller.store;
  const host: HostRecord = await controller.agents.registerHost({
    name: "h1",
    roles: ["compute", "storage"],
    exportInterfaces: ["san0"],
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-fake-"));
  await store.createPool({
    ...{ id: "pool-1", name: "p", hostId: host.id, kind: "directory", path: `${dir}/pool` },
    ...{ devices: [], capacityBytes: null, freeBytes: null, createdMs: 1 },
  });
  const volume = async (name: string, shelf: number, overrides: Partial<VolumeRecord> = {}) => {
    const record = volumeRecord({
      ...{ id: `vol-${name.replace(/\./g, "-")}`, name, poolId: "pool-1", hostId: host.id, shelf },
      ...{ sizeBytes: 2 ** 30, ...overrides },
    });
    await store.createVolume(record);
    return record;
  };
  const fakeHost = new FakeHost({
    ...{ bridges: ["xenbr1"], totalMemoryMiB: 4096, cpus: 2 },
    ...hostOptions,
  });
  const driver = new FakeHypervisorDriver({ host: fakeHost });
  const attached: string[] = [];
  const disks: GuestDiskAttacher = {
    attach: (domainName, disk) => {
      attached.push(domainName);
      return Promise.resolve({ kind: "path", path: `/dev/etherd/e${disk.shelf}.${disk.slot}` });
    },
    detach: (domainName) => {
      const at = attached.indexOf(domainName);
      if (at !== -1) attached.splice(at, 1);
    },
  };
  const networkErrors = new Map<string, string>();
  const applyNetwork = (network: DesiredNetwork) => {
    const error = networkErrors.get(network.name);
    return error ? Promise.reject(new Error(error)) : Promise.resolve();
  };
  const stateFile = path.join(dir, "state.json");
  const storage = fakeStorage(path.join(dir, "aoe"), log);
  /** An agent process: a driver on the (same) fake host, its state from the (same) file. */
  const agentProcess = () =>
    new ComputeReconciler(
      new FakeHypervisorDriver({ host: fakeHost }),
      disks,
      applyNetwork,
      new ComputeState(stateFile),
      log,
    );
  const reconciler = agentProcess();
  const link = new InProcessLink(controller.agents, host.id, controller.consoles);
  const relay = new ConsoleRelay(driver, (id) => link.openConsole(id), log);
  /** One agent pass: desired state in, driver calls, report out. */
  const pass = async () => {
    // The agent's lease (host-liveness.ts): a host that stops renewing is dead for placement.
    await link.renewLease();
    const desired = await link.desired();
    const served = await storage.reconciler.reconcile(desired, () => undefined);
    const result = await reconciler.reconcile(desired.networks, desired.domains);
    relay.handle(desired.consoles, desired.domains);
    await link.report({
      inventory: {
        hostname: "h1",
        agentVersion: "test",
        interfaces: [
          { ifname: "eth0", mac: "52:54:00:00:00:99", mtu: 1500, up: true },
          { ifname: "san0", mac: HOST_MAC, mtu: 1500, up: true },
        ],
        sanInterfaces: ["san0"],
        ...(result.hypervisor ? { hypervisor: result.hypervisor } : {}),
      },
      pools: served.pools,
      volumes: served.volumes,
      foreignTargets: [],
      domains: result.domains,
      networks: result.networks,
    });
  };
  /** Passes until `done` holds (the fake's boots and stops take a few ms). */
  const settle = async (what: string, done: () => Promise<boolean>) => {
    for (let i = 0; i < 100; i++) {
      await pass();
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.fail(`${what} did not happen`);
  };
  const domain = (name: string) => controller.domains.get(name);
  const typeOnConsole = async (name: string, line: string) => {
    const session = await driver.console(name);
    session.stream.write(`${line}\n`);
    await session.close();
  };
  await pass(); // the host reports its hypervisor
  return {
    ...{ store, controller, host, driver, fakeHost, volume, pass, settle, domain, attached },
    ...{ typeOnConsole, networkErrors, link, reconciler, agentProcess },
    servedMask: storage.servedMask,
  };
}

/** desired/observed, e.g. "running/running". */
export function domainState(d: DomainRecord): string {
  return `${d.desiredState}/${d.observed?.state ?? "-"}`;
}

/**
 * Leases for benches on the real clock: a loaded machine can leave seconds between two passes,
 * which the default lease (suspect after 3 s) would take for a failing host and refuse
 * placement. Tests about leases use a fake clock (failover.fake-driver.test.ts).
 */
export const BENCH_LEASE = { renewMs: 1000, suspectMs: 120_000, deadMs: 300_000 } as const;
