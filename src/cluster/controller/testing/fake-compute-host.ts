/**
 * One compute host of the FAKE benches: registered with the controller, its agent the real
 * compute reconciler and migration relay over a FakeHypervisorDriver, its disks attached by a
 * FAKE that only records which domains hold one. Its passes are run by the test.
 */
import * as path from "node:path";
import type { Logger } from "../../../foundation/log.js";
import { FakeHost, FakeHypervisorDriver } from "../../../hypervisor/fake/fake-driver.js";
import { ComputeReconciler } from "../../agent/compute/compute-reconciler.js";
import { ComputeState } from "../../agent/compute/compute-state.js";
import type { GuestDiskAttacher } from "../../agent/compute/guest-disks.js";
import { MigrationRelay } from "../../agent/compute/migration-relay.js";
import { InProcessLink } from "../../agent/controller-link.js";
import type { HostRecord } from "../../model.js";
import type { Controller } from "../controller.js";

export interface FakeComputeHost {
  name: string;
  record: HostRecord;
  /** Its SAN NIC's MAC: what its domains' volumes are opened to. */
  mac: string;
  fakeHost: FakeHost;
  driver: FakeHypervisorDriver;
  relay: MigrationRelay;
  /** Domains whose disks are attached here now. */
  attached: Set<string>;
  /** A pass of this host's agent: desired state in, driver calls, report out; `down`: none. */
  pass(): Promise<void>;
  down: boolean;
}

export interface FakeComputeHostSpec {
  name: string;
  mac: string;
  totalMemoryMiB?: number;
  cpus?: number;
  bridges?: string[];
}

/**
 * `controller()` is asked at every call, as an agent's HTTP link would reach whichever controller
 * serves now (a bench may restart it). `dir` holds the agent's state file. The controller is
 * told of a network "xenbr1" on the host, whatever bridges the host really has.
 */
export async function fakeComputeHost(
  controller: () => Controller,
  spec: FakeComputeHostSpec,
  dir: string,
  log: Logger,
): Promise<FakeComputeHost> {
  const { name, mac } = spec;
  const record = await controller().agents.registerHost({
    name,
    roles: ["compute"],
    exportInterfaces: [],
  });
  const fakeHost = new FakeHost({
    bridges: spec.bridges ?? ["xenbr1"],
    totalMemoryMiB: spec.totalMemoryMiB ?? 4096,
    cpus: spec.cpus ?? 2,
  });
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
  const link = () => {
    const c = controller();
    return new InProcessLink(c.agents, record.id, c.consoles, c.migrationStreams);
  };
  // Live moves go through the real migration relay and the fake's migration.
  const relay = new MigrationRelay(reconciler, (id) => link().openMigration(id), log);
  reconciler.holds = (id) => relay.holds(id);
  const host: FakeComputeHost = {
    ...{ name, record, mac, fakeHost, driver, relay, attached, down: false },
    pass: async () => {
      if (host.down) return;
      const desired = await link().desired();
      const result = await reconciler.reconcile(desired.networks, desired.domains);
      relay.handle(desired.migrations ?? [], desired.domains);
      await link().report({
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
  await controller().networks.create({ hostId: record.id, name: "xenbr1" });
  return host;
}
