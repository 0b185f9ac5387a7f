/**
 * Wires an agent to real I/O: AF_PACKET sockets and files for the AoE target, directory and block
 * pools on this host, and a link to the controller. The edge where the agent's parts meet Linux.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createLogger } from "../foundation/log.js";
import { openFileBlockDevice } from "../block/file/file-block-device.js";
import { openAfPacketSocket } from "../net/raw-socket/af-packet.js";
import { AOE_ETHERTYPE } from "../aoe/codec/header.js";
import { AoeTarget } from "../aoe/target/aoe-target.js";
import { FileExportStateStore } from "../aoe/target/export-state.js";
import { openBlockPool } from "../storage/pool/block-pool.js";
import { openDirectoryPool } from "../storage/pool/directory-pool.js";
import type { StoragePool } from "../storage/pool/storage-pool.js";
import type { DesiredPool } from "../cluster/agent-protocol.js";
import { applyHostNetwork } from "../net/host-network/index.js";
import type { HypervisorDriver } from "../hypervisor/driver.js";
import type { MigrationLimits } from "../hypervisor/migration.js";
import { Agent, hostInventory, startSpread, type AgentCompute } from "../cluster/agent/agent.js";
import { ComputeReconciler } from "../cluster/agent/compute/compute-reconciler.js";
import { ComputeState } from "../cluster/agent/compute/compute-state.js";
import { BOOT_DIR_DEFAULT, withBootDirectory } from "../cluster/agent/compute/boot-files.js";
import { ConsoleRelay } from "../cluster/agent/compute/console-relay.js";
import { GuestDisks } from "../cluster/agent/compute/guest-disks.js";
import { MigrationRelay } from "../cluster/agent/compute/migration-relay.js";
import { ForeignTargetScanner } from "../cluster/agent/foreign-scanner.js";
import type { ControllerLink } from "../cluster/agent/controller-link.js";
import { StorageReconciler } from "../cluster/agent/reconciler.js";
import { Watchdog } from "../cluster/agent/watchdog.js";
import { openWatchdogDevice } from "../cluster/agent/watchdog-device.js";
import {
  leaseTimesPath,
  loadLeaseTimes,
  saveLeaseTimes,
} from "../cluster/agent/lease-times-file.js";

export interface StartedAgent {
  agent: Agent;
  target: AoeTarget;
  stop(): Promise<void>;
}

/** Opens a pool of this host: a directory (made if missing) or a set of block devices. */
function poolOpener(dataDir: string) {
  return async (pool: DesiredPool): Promise<StoragePool> => {
    if (pool.kind === "directory") {
      fs.mkdirSync(pool.path, { recursive: true, mode: 0o700 });
      return openDirectoryPool(pool.path);
    }
    // Which device holds which volume is this host's knowledge: kept beside the agent's state.
    return openBlockPool(pool.devices, path.join(dataDir, "pools", `${pool.id}.json`));
  };
}

export interface ComputeOptions {
  driver: HypervisorDriver;
  sanInterfaces: string[];
  /** Guests' kernels and ramdisks must resolve inside it (default BOOT_DIR_DEFAULT). */
  bootDir?: string;
  /** Live migrations' bounds on this host (MIGRATION_LIMITS_DEFAULT when absent). */
  migrationLimits?: MigrationLimits;
  /** The guests' disk bridges' AoE request deadline (the initiator's default when absent). */
  sanRequestTimeoutMs?: number;
}

export async function startAgent(options: {
  link: ControllerLink;
  dataDir: string;
  netnsPath?: string;
  intervalMs?: number;
  /** How often to look for foreign AoE targets on the export interfaces. */
  scanIntervalMs?: number;
  /** A compute host: its hypervisor and the interfaces its guests' AoE disks are reached on. */
  compute?: ComputeOptions;
  /** A watchdog device (`--watchdog`, e.g. /dev/watchdog) fed after each lease renewal. */
  watchdogPath?: string;
}): Promise<StartedAgent> {
  const log = createLogger("cluster:agent");
  const openSocket = (ifname: string) =>
    openAfPacketSocket({
      ifname,
      ethertype: AOE_ETHERTYPE,
      ...(options.netnsPath ? { netnsPath: options.netnsPath } : {}),
    });
  const stateDir = path.join(options.dataDir, "aoe");
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const target = await AoeTarget.start(
    { stateDir, bufferCount: 64, exports: [] },
    {
      openSocket,
      openDevice: (file, deviceOptions) => openFileBlockDevice(file, deviceOptions),
      stateStore: new FileExportStateStore(stateDir),
      log: createLogger("aoe:target"),
    },
  );
  fs.mkdirSync(path.join(options.dataDir, "pools"), { recursive: true, mode: 0o700 });
  const reconciler = new StorageReconciler(poolOpener(options.dataDir), target, stateDir, 64, log);
  const sanInterfaces = options.compute?.sanInterfaces ?? [];
  const scanner = new ForeignTargetScanner(openSocket, log, options.scanIntervalMs ?? 30_000);
  let watchdog: Watchdog | undefined;
  const leaseFile = leaseTimesPath(options.dataDir);
  const agent = new Agent(
    options.link,
    reconciler,
    log,
    options.intervalMs ?? 500,
    // The controller grants a compute host's SAN MACs access to its domains' volumes.
    sanInterfaces.length > 0 ? () => ({ ...hostInventory(), sanInterfaces }) : hostInventory,
    scanner,
    options.compute ? computeSide(options.compute, options.link, options.dataDir) : undefined,
    {
      onRenewed: () => watchdog?.feed(),
      onTimes: (times) => saveLeaseTimes(leaseFile, times, log),
    },
    loadLeaseTimes(leaseFile, log),
  );
  // Opened (armed) only now, just before the lease starts feeding it.
  if (options.watchdogPath !== undefined) {
    try {
      watchdog = new Watchdog(openWatchdogDevice(options.watchdogPath), log);
    } catch (error) {
      await target.stop();
      throw error;
    }
    log.info(`watchdog ${options.watchdogPath} armed: fed after each lease renewal`);
  }
  // A random moment before the first report and renewal: agents started together do not reach
  // the controller in one burst (agent.ts startSpread).
  agent.start(startSpread(agent.lease.settings.renewMs));
  return {
    agent,
    target,
    stop: async () => {
      await agent.stop();
      // After the last renewal: the magic close disarms it (a clean stop does not reboot).
      watchdog?.close();
      await target.stop();
    },
  };
}

function computeSide(compute: ComputeOptions, link: ControllerLink, dataDir: string): AgentCompute {
  const log = createLogger("cluster:compute");
  const disks = new GuestDisks({
    runDir: path.join(dataDir, "disks"),
    sanInterfaces: compute.sanInterfaces,
    ...(compute.sanRequestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: compute.sanRequestTimeoutMs }),
    log,
  });
  const reconciler = new ComputeReconciler(
    withBootDirectory(compute.driver, compute.bootDir ?? BOOT_DIR_DEFAULT),
    disks,
    async (network) => {
      await applyHostNetwork({
        name: network.name,
        bridge: network.bridge,
        uplink: network.uplink,
        vlanId: network.vlanId,
      });
    },
    new ComputeState(path.join(dataDir, "compute-state.json")),
    log,
  );
  const migrations = new MigrationRelay(
    reconciler,
    (id) => link.openMigration(id),
    log,
    compute.migrationLimits,
  );
  reconciler.holds = (domainId) => migrations.holds(domainId);
  return {
    reconciler,
    consoles: new ConsoleRelay(compute.driver, (id) => link.openConsole(id), log),
    migrations,
  };
}
