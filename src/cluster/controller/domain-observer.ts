/**
 * The controller's side of domains on agents: the desired domains handed to a host, and what its
 * agent reports, which finishes tasks and records the on_* policies' outcome (a guest that
 * powered off with on_poweroff = 'destroy' is stopped for good, so the domain's desired state
 * becomes stopped too).
 */
import type { Logger } from "../../foundation/log.js";
import { errorMessage } from "../../foundation/errors.js";
import { storedDomainBoot } from "../../domain/import/domain-import.js";
import type { DesiredDomain, DesiredDomainDisk, ObservedDomain } from "../agent-protocol.js";
import type { DomainObserved, DomainRecord, TaskRecord } from "../model.js";
import type { Store } from "../store/store.js";
import type { TaskService } from "./task-service.js";

/** A running guest's CPU time and the report's time move every pass: rewrite them this often. */
const OBSERVED_REFRESH_MS = 10_000;

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
    private readonly log: Logger,
  ) {}

  async desiredFor(hostId: string): Promise<DesiredDomain[]> {
    const domains = await this.store.listDomains({ hostId });
    const desired: DesiredDomain[] = [];
    for (const domain of domains) {
      let boot: DesiredDomain["boot"];
      try {
        boot = storedDomainBoot(domain.config, domain.name);
      } catch (error) {
        this.log.error(
          `domain ${domain.name}'s stored file no longer reads: ${errorMessage(error)}`,
        );
        continue;
      }
      const disks: DesiredDomainDisk[] = [];
      for (const disk of domain.disks) {
        const volume =
          disk.volumeId === null ? undefined : await this.store.getVolume(disk.volumeId);
        disks.push(
          volume
            ? {
                vdev: disk.vdev,
                readOnly: disk.readOnly,
                kind: "aoe",
                shelf: volume.shelf,
                slot: volume.slot,
              }
            : { vdev: disk.vdev, readOnly: disk.readOnly, kind: "path", path: disk.target },
        );
      }
      desired.push({
        id: domain.id,
        name: domain.name,
        uuid: domain.uuid,
        config: domain.config,
        memoryMiB: domain.memoryMiB,
        vcpus: domain.vcpus,
        boot,
        disks,
        vifs: domain.vifs,
        onPoweroff: domain.onPoweroff,
        onReboot: domain.onReboot,
        onCrash: domain.onCrash,
        allowedUnsafe: domain.allowedUnsafe,
        desiredState: domain.desiredState,
        stopMode: domain.stopMode,
        shutdownTimeoutS: domain.shutdownTimeoutS,
        rebootSeq: domain.rebootSeq,
        generation: domain.generation,
      });
    }
    return desired;
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
    const task = await this.tasks.runningFor(domain.id);
    if (task) await this.settleTask(current, task);
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
            `${domain.name} rebooted and stopped (on_reboot = ${domain.onReboot})`,
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
