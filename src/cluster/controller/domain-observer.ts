/**
 * The controller's side of domains on agents: the desired domains handed to a host, and what its
 * agent reports, which finishes tasks and records the on_* policies' outcome (a guest that
 * powered off with on_poweroff = 'destroy' is stopped for good, so the domain's desired state
 * becomes stopped too).
 */
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { DesiredDomain, ObservedDomain } from "../agent-protocol.js";
import type { DomainObserved, DomainRecord, HostState, TaskRecord } from "../model.js";
import type { EventLog } from "./event-log.js";
import type { Store } from "../store/store.js";
import { desiredDomain } from "./placed-spec.js";
import type { TaskService } from "./task-service.js";
import type { VolumeGrants } from "./volume-grants.js";

/**
 * A running guest's CPU time and the report's time move every pass: rewrite them this often.
 * Agents send CPU time alone every 5 s for the web UI's charts, which read it from memory
 * (status-schedule.ts, host-metrics.ts); the store keeps the agents' refresh pace (30 s).
 */
const OBSERVED_REFRESH_MS = 30_000;

/** Whether `next` says nothing new beyond its clock fields, recently written. */
function unchanged(before: DomainObserved | null, next: DomainObserved): boolean {
  if (before === null || next.atMs - before.atMs >= OBSERVED_REFRESH_MS) return false;
  const { atMs: _a, cpuTimeS: _c, ...rest } = next;
  const { atMs: _b, cpuTimeS: _d, ...restBefore } = before;
  return JSON.stringify(rest) === JSON.stringify(restBefore);
}

export class DomainObserver {
  constructor(
    private readonly store: Store,
    private readonly tasks: TaskService,
    private readonly grants: VolumeGrants,
    private readonly log: Logger,
    private readonly events?: EventLog,
  ) {}

  /** The controller's view of each host (failover.ts): a dead or fenced host gets no grant. */
  hostState: (hostId: string) => HostState = () => "up";

  /** The host's domains as their last start froze them (placed-spec.ts). */
  async desiredFor(hostId: string): Promise<DesiredDomain[]> {
    const desired: DesiredDomain[] = [];
    for (const domain of await this.store.listDomains({ hostId })) {
      if (domain.placed === null) {
        // Placed by an etherplane without frozen specs: nothing checked to run.
        if (domain.desiredState !== "stopped")
          this.log.error(
            `domain ${domain.name} has no checked spec to run: etherplane destroy ${domain.name}, then start it`,
          );
        continue;
      }
      if (await this.waitsForAccess(domain, hostId)) continue;
      desired.push(desiredDomain(domain, domain.placed));
    }
    return desired;
  }

  /**
   * A domain placed here whose guest has not started yet is held back until the storage agents
   * serve its volumes to this host: its agent would find no disk. A guest that exists is never
   * held back (its agent keeps watching it).
   */
  private async waitsForAccess(domain: DomainRecord, hostId: string): Promise<boolean> {
    if (domain.desiredState === "stopped") return false;
    const state = domain.observed?.state ?? "stopped";
    if (state !== "stopped") return false;
    return !(await this.grants.applied(domain, hostId));
  }

  /**
   * Volume access follows where the domain runs: granted to this host while it should run here
   * (again after a controller restart, or for a domain started before grants existed), taken back
   * once it has stopped (the guest is gone, so its disks may close).
   */
  private async followAccess(domain: DomainRecord, hostId: string): Promise<void> {
    try {
      const stopped = domain.desiredState === "stopped" && domain.observed?.state === "stopped";
      if (stopped) return await this.grants.revoke(domain);
      if (domain.desiredState === "stopped" || domain.hostId !== hostId) return;
      const state = this.hostState(hostId);
      if (state === "dead" || state === "fenced") return;
      const host = await this.store.getHost(hostId);
      if (host) await this.grants.grant(domain, host, true);
    } catch (error) {
      this.log.warn(`domain ${domain.name}: volume access: ${errorMessage(error)}`);
    }
  }

  async settle(hostId: string, observed: readonly ObservedDomain[]): Promise<void> {
    const seen = new Map(observed.map((o) => [o.id, o]));
    for (const domain of await this.store.listDomains({ hostId })) {
      const report = seen.get(domain.id);
      if (report) await this.settleOne(domain, report);
    }
  }

  private async settleOne(domain: DomainRecord, report: ObservedDomain): Promise<void> {
    const { id: _id, ...observed } = report;
    let current = unchanged(domain.observed, observed)
      ? domain
      : await this.store.observeDomain(domain.id, observed);
    const exit = observed.lastExit;
    const newExit = exit !== null && exit.atMs !== domain.observed?.lastExit?.atMs;
    await this.recordChange(domain, observed, newExit);
    if (newExit) {
      this.log.info(
        `domain ${domain.name}: guest ${exit.reason}, on_${exit.reason === "poweroff" ? "poweroff" : exit.reason} = ${exit.action}`,
      );
      const stopped = exit.action === "destroy" || exit.action === "coredump-destroy";
      if (stopped && current.desiredState !== "stopped") {
        current = await this.store.updateDomain(domain.id, {
          desiredState: "stopped",
          stopMode: "destroy",
        });
      }
    }
    await this.followAccess(current, domain.hostId ?? "");
    const task = await this.tasks.runningFor(domain.id);
    if (task) await this.settleTask(current, task);
  }

  /** The event log's line for a guest that started, stopped, paused or crashed. */
  private async recordChange(
    domain: DomainRecord,
    next: DomainObserved,
    newExit: boolean,
  ): Promise<void> {
    if (!this.events) return;
    const before = domain.observed?.state ?? "stopped";
    const where = { host: await this.hostName(domain.hostId) };
    try {
      if (newExit && next.lastExit?.reason === "crash")
        await this.events.record(
          "domain.crashed",
          domain.name,
          `${domain.name} crashed; on_crash = ${next.lastExit.action}`,
          { ...where, action: next.lastExit.action },
        );
      if (before === next.state) return;
      const kind =
        next.state === "running"
          ? before === "paused"
            ? "domain.unpaused"
            : "domain.started"
          : next.state === "paused"
            ? "domain.paused"
            : next.state === "stopped"
              ? "domain.stopped"
              : `domain.${next.state}`;
      const id = next.domid === null ? "" : ` (id ${next.domid})`;
      await this.events.record(kind, domain.name, `${domain.name} is ${next.state}${id}`, {
        ...where,
        was: before,
      });
    } catch (error) {
      this.log.warn(`domain ${domain.name}: event log: ${errorMessage(error)}`);
    }
  }

  private async hostName(hostId: string | null): Promise<string | null> {
    if (hostId === null) return null;
    return (await this.store.getHost(hostId))?.name ?? hostId;
  }

  private async settleTask(domain: DomainRecord, task: TaskRecord): Promise<void> {
    const seen = domain.observed;
    if (!seen) return;
    const applied = seen.appliedGeneration >= domain.generation;
    if (seen.error && !applied) {
      await this.tasks.fail(task.id, "UNAVAILABLE", `${domain.name}: ${seen.error}`);
      if (task.kind === "domain.start" && domain.desiredState !== "stopped") {
        // The agent will not retry a generation it failed; stop asking for it.
        await this.store.updateDomain(domain.id, { desiredState: "stopped", stopMode: "destroy" });
      }
      return;
    }
    if (!applied) return;
    const where = seen.domid === null ? "" : ` (id ${seen.domid})`;
    switch (task.kind) {
      case "domain.start":
      case "domain.failover":
      case "domain.unpause":
        if (seen.state === "running")
          await this.tasks.succeed(task.id, `${domain.name} is running${where}`, {
            domainId: domain.id,
          });
        else if (seen.state === "stopped" && domain.desiredState === "stopped")
          await this.tasks.fail(
            task.id,
            "CONFLICT",
            `${domain.name} stopped before the start finished (${seen.lastExit?.reason ?? "stopped"})`,
          );
        return;
      case "domain.pause":
        if (seen.state === "paused")
          await this.tasks.succeed(task.id, `${domain.name} is paused${where}`);
        return;
      case "domain.reboot":
        if (seen.appliedRebootSeq >= domain.rebootSeq && seen.state !== "stopped")
          await this.tasks.succeed(task.id, `${domain.name} was asked to reboot`);
        else if (seen.state === "stopped")
          await this.tasks.succeed(
            task.id,
            `${domain.name} rebooted and stopped (on_reboot = ${domain.placed?.onReboot ?? domain.onReboot})`,
          );
        return;
      case "domain.shutdown":
      case "domain.destroy":
        if (seen.state === "stopped")
          await this.tasks.succeed(task.id, `${domain.name} is stopped`);
        return;
      default:
        return;
    }
  }
}
