/**
 * The agent on every host: reports its inventory and heartbeats, takes the desired state from the
 * controller and reconciles the host with it, over and over; one pass at a time. A long copy
 * reports its progress while it runs. Killed at any point and restarted, it converges.
 */
import * as os from "node:os";
import { errorMessage, isEtherplaneError } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import { listEthernetInterfaces } from "../../net/interfaces.js";
import { realClock } from "../../foundation/clock.js";
import type { AgentStatus, DesiredState, ObservedVolume } from "../agent-protocol.js";
import { LeaseHolder, type LeaseEvents, type LeaseTimes } from "./lease-holder.js";
import { fingerprint, statusDue, type SentStatus } from "./status-schedule.js";
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
/** How long a long-poll for desired state waits at the controller. */
export const LONG_POLL_WAIT_MS = 25_000;
/** After a failed long-poll, the next one waits this long (then doubles, to the max). */
const WATCH_RETRY_MS_FIRST = 250;
const WATCH_RETRY_MS_MAX = 5_000;

/**
 * How long a started agent waits before its first report and desired state, and before its first
 * lease renewal: nothing by default (tests); `startSpread()` for the daemon (start-agent.ts).
 */
export interface StartDelays {
  reportMs: number;
  renewMs: number;
}

/** The first report's random delay at most (it writes the store: its inventory, an event). */
export const FIRST_REPORT_SPREAD_MS = 1000;

/**
 * Random delays for an agent's start. Agents started together (a rack powered on, `up` with many
 * hosts, a fleet upgraded, the simulator of bench/agents.ts) otherwise reach the controller in
 * one burst: their first reports all at once, and their renewals in the same few milliseconds of
 * every second ever after, since each keeps the phase of its first. The first renewal waits at
 * most one renewal period (`renewMs`): a lease spans at least three (host-liveness.ts).
 */
export function startSpread(renewMs: number, random: () => number = Math.random): StartDelays {
  return {
    reportMs: Math.floor(random() * FIRST_REPORT_SPREAD_MS),
    renewMs: Math.floor(random() * renewMs),
  };
}

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
  /** A new desired state arrived during a pass: the next pass starts when it ends. */
  private kicked = false;
  /** The desired state last received, and whether a pass must fetch it afresh (converge()). */
  private desiredState: DesiredState | undefined;
  private fetchFresh = true;
  private watching: Promise<void> = Promise.resolve();
  private lastStatus: SentStatus | undefined;
  /** Set by the lease: HA domains are kept down (self-fenced) while it is lost. */
  readonly lease: LeaseHolder;
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
    private readonly events: Partial<LeaseEvents> = {},
    /** The controller's lease timing as this host's agent last saw it (lease-holder.ts). */
    leaseTimes?: LeaseTimes,
  ) {
    this.lease = new LeaseHolder(
      () => this.link.renewLease(),
      {
        onLost: (reason) => this.selfFence(reason),
        onRegained: () => {
          // Act only on the controller's current placements: fetch them before any pass.
          this.fetchFresh = true;
          this.events.onRegained?.();
        },
        onRenewed: () => this.events.onRenewed?.(),
        onTimes: (times) => this.events.onTimes?.(times),
      },
      realClock,
      log,
      leaseTimes,
    );
  }

  start(delays: StartDelays = { reportMs: 0, renewMs: 0 }): void {
    if (this.running) return;
    this.running = true;
    this.lease.start(delays.renewMs);
    this.watching = this.watch(delays.reportMs);
    this.schedule(delays.reportMs);
  }

  /** Long-polls the desired state; a change starts a pass at once. */
  private async watch(firstDelayMs: number): Promise<void> {
    if (firstDelayMs > 0) await new Promise((r) => setTimeout(r, firstDelayMs));
    let retryMs = WATCH_RETRY_MS_FIRST;
    while (this.running) {
      try {
        const revision = this.desiredState?.revision;
        const next =
          revision === undefined
            ? await this.link.desired()
            : await this.link.desiredAfter(revision, LONG_POLL_WAIT_MS);
        retryMs = WATCH_RETRY_MS_FIRST;
        if (next && this.running) {
          this.desiredState = next;
          this.kick();
        }
      } catch (error) {
        // A reply this agent does not understand (another controller version) is worth a
        // warning; a long-poll cut short by a restart or the network is not.
        const message = `waiting for desired state failed; retrying: ${errorMessage(error)}`;
        if (isEtherplaneError(error, "PROTOCOL")) this.log.warn(message);
        else this.log.debug(message);
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(WATCH_RETRY_MS_MAX, retryMs * 2);
      }
    }
  }

  /**
   * A pass now rather than at the next interval (a new desired state); during a pass, the next
   * one starts as soon as it ends (a failover's start does not wait a whole interval more).
   */
  private kick(): void {
    if (!this.running) return;
    if (!this.timer) {
      this.kicked = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  /**
   * The lease is lost: every HA guest is destroyed now, before the controller's dead timeout,
   * and none is started again until the lease is back (passes skip them meanwhile).
   */
  private selfFence(reason: string): void {
    this.events.onLost?.(reason);
    const compute = this.compute;
    const domains = this.desiredState?.domains.filter((d) => d.ha) ?? [];
    if (!compute || domains.length === 0) return;
    compute.reconciler
      .destroyGuests(domains, `self-fenced: ${reason}`)
      .catch((error: unknown) => this.log.error(`self-fencing failed: ${errorMessage(error)}`));
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kicked = false;
      this.pass = this.once().finally(() => this.schedule(this.kicked ? 0 : this.intervalMs));
    }, delayMs);
  }

  /**
   * One reconcile pass on the desired state last received (`fresh`: fetched now), then a report
   * if the status changed. Errors are logged; the next pass retries.
   */
  async once(options: { fresh?: boolean } = {}): Promise<void> {
    try {
      if (options.fresh || this.fetchFresh || !this.desiredState) {
        this.fetchFresh = false;
        this.desiredState = await this.link.desired();
      }
      const desired = this.desiredState;
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
        await this.compute.reconciler.destroyGuests(
          desired.evict,
          "its domain now runs on another host",
        );
        // Self-fenced: HA domains stay down (not started, not reported) until the lease is back.
        const domains = this.lease.lost ? desired.domains.filter((d) => !d.ha) : desired.domains;
        compute = await this.compute.reconciler.reconcile(desired.networks, domains);
        this.compute.consoles.handle(desired.consoles, domains);
        this.compute.migrations?.handle(desired.migrations ?? [], domains);
      }
      await this.reportIfChanged(this.status(result.volumes, result.pools, compute));
    } catch (error) {
      this.log.warn(`reconcile pass failed; retrying: ${errorMessage(error)}`);
    } finally {
      this.passesCompleted++;
    }
  }

  /** Sends the status when it is due (status-schedule.ts). */
  private async reportIfChanged(status: AgentStatus): Promise<void> {
    const next = fingerprint(status, Date.now());
    if (!statusDue(this.lastStatus, next)) return;
    await this.link.report(status);
    this.lastStatus = next;
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
      ...(compute
        ? { domains: compute.domains, networks: compute.networks, guests: compute.guests }
        : {}),
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
    // The pass that starts next fetches the desired state afresh and reports what it did.
    this.fetchFresh = true;
    this.lastStatus = undefined;
    const target = this.passesCompleted + 2;
    while (this.passesCompleted < target) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.lease.stop();
    await this.pass;
    // A long-poll under way ends with its wait; the loop then sees running = false.
    void this.watching;
  }
}
