/**
 * The agent on every host: reports its inventory and heartbeats, takes the desired state from the
 * controller and reconciles the host with it, over and over; one pass at a time. A long copy
 * reports its progress while it runs. Killed at any point and restarted, it converges.
 */
import * as os from "node:os";
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import { listEthernetInterfaces } from "../../net/interfaces.js";
import type { AgentStatus, ObservedVolume } from "../agent-protocol.js";
import type { HostInventory, HypervisorInventory } from "../model.js";
import type { ControllerLink } from "./controller-link.js";
import type { ForeignTargetScanner } from "./foreign-scanner.js";
import type { StorageReconciler } from "./reconciler.js";
import type { ComputeReconciler, ComputeResult } from "./compute/compute-reconciler.js";
import type { ConsoleRelay } from "./compute/console-relay.js";
import type { MigrationRelay } from "./compute/migration-relay.js";

/** The compute side of an agent: its hypervisor's domains and their consoles. */
export interface AgentCompute {
  reconciler: ComputeReconciler;
  consoles: ConsoleRelay;
  migrations?: MigrationRelay;
}

export const AGENT_VERSION = "0.1.0";
const PROGRESS_REPORT_MS = 500;

export function hostInventory(): HostInventory {
  return {
    hostname: os.hostname(),
    agentVersion: AGENT_VERSION,
    interfaces: listEthernetInterfaces().map(({ ifname, mac, mtu, up }) => ({
      ifname,
      mac,
      mtu,
      up,
    })),
  };
}

export class Agent {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> = Promise.resolve();
  private lastProgressReportMs = 0;
  /** Resolves callers of `converge()` after the next full pass. */
  private passesCompleted = 0;
  private hypervisor: HypervisorInventory | undefined;

  constructor(
    private readonly link: ControllerLink,
    private readonly reconciler: StorageReconciler,
    private readonly log: Logger,
    private readonly intervalMs = 500,
    private readonly inventory: () => HostInventory = hostInventory,
    private readonly scanner?: ForeignTargetScanner,
    private readonly compute?: AgentCompute,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.pass = this.once().finally(() => this.schedule(this.intervalMs));
    }, delayMs);
  }

  /** One reconcile pass: fetch, apply, report. Errors are logged; the next pass retries. */
  async once(): Promise<void> {
    try {
      const desired = await this.link.desired();
      const inventory = this.inventory();
      this.scanner?.maybeScan(
        desired.exportInterfaces,
        new Set(inventory.interfaces.map((i) => i.mac)),
      );
      const result = await this.reconciler.reconcile(desired, (volumeId, doneBytes, totalBytes) =>
        this.progress(volumeId, doneBytes, totalBytes),
      );
      let compute: ComputeResult | undefined;
      if (this.compute) {
        compute = await this.compute.reconciler.reconcile(desired.networks, desired.domains);
        this.compute.consoles.handle(desired.consoles, desired.domains);
        this.compute.migrations?.handle(desired.migrations ?? [], desired.domains);
      }
      await this.link.report(this.status(result.volumes, result.pools, compute));
    } catch (error) {
      this.log.warn(`reconcile pass failed; retrying: ${errorMessage(error)}`);
    } finally {
      this.passesCompleted++;
    }
  }

  private status(
    volumes: ObservedVolume[],
    pools: AgentStatus["pools"] = [],
    compute?: ComputeResult,
  ): AgentStatus {
    const inventory = this.inventory();
    // Progress reports in the middle of a pass carry the hypervisor last seen.
    if (compute?.hypervisor) this.hypervisor = compute.hypervisor;
    return {
      inventory: this.hypervisor ? { ...inventory, hypervisor: this.hypervisor } : inventory,
      pools,
      volumes,
      foreignTargets: this.scanner?.targets ?? [],
      ...(compute ? { domains: compute.domains, networks: compute.networks } : {}),
      ...(this.compute?.migrations ? { migrations: this.compute.migrations.observed() } : {}),
    };
  }

  /** Reports a copy's progress during a pass, at most every PROGRESS_REPORT_MS. */
  private progress(volumeId: string, doneBytes: number, totalBytes: number): void {
    const now = Date.now();
    if (now - this.lastProgressReportMs < PROGRESS_REPORT_MS && doneBytes < totalBytes) return;
    this.lastProgressReportMs = now;
    // Only the copy's own entry: results of the previous pass may be stale by now.
    const volumes: ObservedVolume[] = [];
    volumes.push({
      id: volumeId,
      present: false,
      sizeBytes: null,
      allocatedBytes: null,
      appliedGeneration: 0,
      error: null,
      progress: { doneBytes, totalBytes },
    });
    this.link
      .report(this.status(volumes))
      .catch((error: unknown) => this.log.debug(`progress report failed: ${errorMessage(error)}`));
  }

  /** Resolves after a pass that started after this call has finished (tests, `up`). */
  async converge(): Promise<void> {
    const target = this.passesCompleted + 2;
    while (this.passesCompleted < target) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
  }
}
