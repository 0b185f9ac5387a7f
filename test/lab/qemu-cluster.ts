/**
 * The cluster of the QEMU/TCG end-to-end tests (domains, web console, migration, HA, P2V): a
 * controller, a storage host `sto1` with the directory pool `p1`, and compute hosts on the qemu
 * driver, each an `etherplane` process in its own namespace (cluster-lab.ts); every agent runs
 * and every compute host has reported its hypervisor. Beside it, the calls those tests share.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import type { DomainRecord, HostRecord, PoolRecord, TaskRecord } from "../../src/cluster/model.js";
import { ClusterLab, type StorageHost } from "./cluster-lab.js";

/** The agent's first report carries the hypervisor (the qemu driver first checks whether KVM works). */
const HYPERVISORS_MS_MAX = 90_000;
export const POOL = "p1";
/** The bridge `createNetworks` makes on compute hosts, the one guests' vifs name. */
export const BRIDGE = "xenbr1";

export interface QemuClusterOptions {
  /** The lab's tag (namespace and folder names). */
  tag: string;
  /** The compute hosts' names, in order (`computes` follows it). */
  computeHosts: readonly string[];
  /** Flags for the compute hosts' agents (e.g. `--migration-mibps 1`). */
  agentArgs?: readonly string[];
  /** More controller flags (e.g. long leases, so that HA leaves a restarted agent's host be). */
  controllerArgs?: string[];
  /**
   * Called once the storage host exists, before its agent and the controller start (work to
   * overlap with them). Mount nothing before the lab exists: a process that enters a namespace
   * (`ip netns exec`) keeps a copy of the mounts of that moment (p2v-machine.integ.test.ts).
   */
  beforeStart?: (storage: StorageHost) => void;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface QemuCluster {
  lab: ClusterLab;
  storage: StorageHost;
  computes: StorageHost[];
  domain: (name: string) => Promise<DomainRecord>;
  task: (id: string) => Promise<TaskRecord>;
  /** A host's name from its id (undefined: no such host). */
  hostName: (id: string | null) => Promise<string | undefined>;
  /** `etherplane ARGS` as an administrator, to its end. */
  cli: (args: string[], input?: string) => Promise<CliResult>;
  /** Waits until task `id` succeeded (`what` names it in a timeout). */
  taskSucceeded: (what: string, id: string, timeoutMs: number) => Promise<void>;
  /** The network BRIDGE on each of these hosts, made with the CLI. */
  createNetworks: (hosts: readonly string[]) => Promise<void>;
}

export async function qemuCluster(options: QemuClusterOptions): Promise<QemuCluster> {
  const lab = await ClusterLab.create(options.tag);
  try {
    const storage = await lab.storageHost("sto1");
    options.beforeStart?.(storage);
    await lab.startController(options.controllerArgs);
    await lab.startAgent(storage);
    const computes: StorageHost[] = [];
    for (const name of options.computeHosts) computes.push(await lab.computeHost(name, "qemu"));
    for (const host of computes) await lab.startAgent(host, options.agentArgs);
    await lab.waitFor("the compute hosts' hypervisors", HYPERVISORS_MS_MAX, async () => {
      const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
      const ready = body.hosts.filter(
        (h) => options.computeHosts.includes(h.name) && h.inventory?.hypervisor?.kind === "qemu",
      );
      return ready.length === computes.length
        ? null
        : JSON.stringify(body.hosts.map((h) => [h.name, h.inventory]));
    });
    const pool = await lab.call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
      host: storage.name,
      name: POOL,
      kind: "directory",
      path: path.join(storage.dataDir, "pool"),
    });
    assert.equal(pool.status, 201, JSON.stringify(pool.body));

    const task = async (id: string) =>
      (await lab.call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${id}`)).body.task;
    const cli = async (args: string[], input?: string): Promise<CliResult> => {
      const daemon = lab.cli(args, input);
      const code = await daemon.wait();
      return { code, stdout: daemon.stdout, stderr: daemon.stderr };
    };
    return {
      lab,
      storage,
      computes,
      task,
      cli,
      domain: async (name) =>
        (await lab.call<{ domain: DomainRecord }>("GET", `/api/v1/domains/${name}`)).body.domain,
      hostName: async (id) => {
        const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
        return body.hosts.find((h) => h.id === id)?.name;
      },
      taskSucceeded: (what, id, timeoutMs) =>
        lab.waitFor(what, timeoutMs, async () => {
          const { state } = await task(id);
          return state === "succeeded" ? null : state;
        }),
      createNetworks: async (hosts) => {
        for (const host of hosts) {
          const network = await cli(["network", "create", BRIDGE, "--host", host]);
          assert.equal(network.code, 0, network.stderr);
        }
      },
    };
  } catch (error) {
    await lab.close();
    throw error;
  }
}
