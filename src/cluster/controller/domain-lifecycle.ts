/**
 * Starting and stopping domains: each request records the desired state (a new generation) and
 * a task; the host's agent makes it so and its reports finish the task (domain-observer.ts).
 * Every check that can fail is made here, before any guest starts; a start freezes the domain
 * as checked (placed-spec.ts), and the host runs that until the next start.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { linkDisk } from "../../domain/import/disk-link.js";
import type { DomainRecord, HostState, TaskRecord, VolumeRecord } from "../model.js";
import type { Store } from "../store/store.js";
import { isActive, type DomainService } from "./domain-service.js";
import { placedSpec } from "./placed-spec.js";
import { placeDomain } from "./placement.js";
import type { TaskService } from "./task-service.js";
import type { VolumeGrants } from "./volume-grants.js";

export const SHUTDOWN_TIMEOUT_S_MAX = 3600;

export interface DomainChange {
  domain: DomainRecord;
  task: TaskRecord;
}

export class DomainLifecycle {
  constructor(
    private readonly store: Store,
    private readonly domains: DomainService,
    private readonly tasks: TaskService,
    private readonly grants: VolumeGrants,
    private readonly now: () => number = Date.now,
  ) {}

  /** The controller's view of each host (failover.ts sets it): starts go to `up` hosts only. */
  hostState: (hostId: string) => HostState = () => "up";

  async start(ref: string, actor: string, options: { host?: string } = {}): Promise<DomainChange> {
    let domain = await this.domains.get(ref);
    const kept = domain.observed?.state;
    if (kept === "shutdown" || kept === "crashed")
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${domain.name}'s guest is kept ${kept === "crashed" ? "crashed" : "shut down"} (preserve): ` +
          `look at it, then etherplane destroy ${domain.name} and start it again`,
      );
    if (isActive(domain)) {
      const where = domain.hostId ? ` on ${await this.hostName(domain.hostId)}` : "";
      const domid = domain.observed?.domid;
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${domain.name} is already ${domain.desiredState === "stopped" ? "stopping" : domain.desiredState}${where}${domid ? ` (id ${domid})` : ""}`,
      );
    }
    await this.refuseBusy(domain);
    domain = await this.relinkDisks(domain);
    const volumes = new Map<string, VolumeRecord>();
    for (const disk of domain.disks) {
      if (disk.volumeId === null) continue;
      const volume = await this.store.getVolume(disk.volumeId);
      if (volume) volumes.set(volume.id, volume);
    }
    const host = placeDomain(
      {
        domain,
        hosts: await this.store.listHosts(),
        domains: await this.store.listDomains(),
        networks: await this.store.listNetworks(),
        volumes,
        nowMs: this.now(),
        hostState: this.hostState,
      },
      options.host,
    );
    // What was checked is what runs, until the next start (placed-spec.ts).
    const placed = placedSpec(domain, volumes, this.now());
    // The host's SAN MACs join the volumes' masks first; its agent gets the domain only once
    // the storage agents have applied them (DomainObserver.desiredFor).
    await this.grants.grant(domain, host);
    const task = await this.tasks.start(
      "domain.start",
      domain.id,
      actor,
      `starting ${domain.name} on ${host.name}`,
    );
    const updated = await this.store.updateDomain(
      domain.id,
      { hostId: host.id, placed, desiredState: "running", stopMode: "shutdown" },
      domain.generation,
    );
    return { domain: updated, task };
  }

  /** Graceful: the guest is asked to power off, and destroyed if it has not after `timeoutS`. */
  async shutdown(ref: string, actor: string, options: { timeoutS?: number } = {}) {
    const timeoutS = options.timeoutS;
    if (
      timeoutS !== undefined &&
      (!Number.isInteger(timeoutS) || timeoutS < 0 || timeoutS > SHUTDOWN_TIMEOUT_S_MAX)
    )
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `timeout: ${timeoutS} is not a number of seconds from 0 to ${SHUTDOWN_TIMEOUT_S_MAX}`,
        { params: { field: "timeoutS" } },
      );
    return this.stop(ref, actor, "shutdown", timeoutS);
  }

  destroy(ref: string, actor: string): Promise<DomainChange> {
    return this.stop(ref, actor, "destroy");
  }

  async reboot(ref: string, actor: string): Promise<DomainChange> {
    const domain = await this.running(ref, "reboot");
    await this.refuseBusy(domain);
    const task = await this.tasks.start(
      "domain.reboot",
      domain.id,
      actor,
      `rebooting ${domain.name}`,
    );
    const updated = await this.store.updateDomain(
      domain.id,
      { rebootSeq: domain.rebootSeq + 1 },
      domain.generation,
    );
    return { domain: updated, task };
  }

  async pause(ref: string, actor: string): Promise<DomainChange> {
    return this.setRunState(ref, actor, "paused");
  }

  async unpause(ref: string, actor: string): Promise<DomainChange> {
    return this.setRunState(ref, actor, "running");
  }

  private async setRunState(ref: string, actor: string, state: "running" | "paused") {
    const domain = await this.running(ref, state === "paused" ? "pause" : "unpause");
    await this.refuseBusy(domain);
    const verb = state === "paused" ? "pausing" : "unpausing";
    const task = await this.tasks.start(
      state === "paused" ? "domain.pause" : "domain.unpause",
      domain.id,
      actor,
      `${verb} ${domain.name}`,
    );
    const updated = await this.store.updateDomain(
      domain.id,
      { desiredState: state },
      domain.generation,
    );
    return { domain: updated, task };
  }

  private async stop(
    ref: string,
    actor: string,
    mode: "shutdown" | "destroy",
    timeoutS?: number,
  ): Promise<DomainChange> {
    const domain = await this.domains.get(ref);
    if (!isActive(domain))
      throw new EtherplaneError("CONFLICT", `domain ${domain.name} is not running`);
    // A destroy overrides whatever is under way (e.g. a shutdown that hangs); the rest wait.
    const running = await this.tasks.runningFor(domain.id);
    if (running && mode === "destroy")
      await this.tasks.fail(running.id, "CONFLICT", `${running.message}: overridden by destroy`);
    else if (running) await this.refuseBusy(domain);
    const task = await this.tasks.start(
      `domain.${mode}`,
      domain.id,
      actor,
      `${mode === "destroy" ? "destroying" : "shutting down"} ${domain.name}`,
    );
    const updated = await this.store.updateDomain(domain.id, {
      desiredState: "stopped",
      stopMode: mode,
      ...(timeoutS === undefined ? {} : { shutdownTimeoutS: timeoutS }),
    });
    return { domain: updated, task };
  }

  private async running(ref: string, verb: string): Promise<DomainRecord> {
    const domain = await this.domains.get(ref);
    if (domain.desiredState === "stopped" || domain.observed?.state === "stopped")
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${domain.name} is not running, so it cannot ${verb}: etherplane start ${domain.name}`,
      );
    return domain;
  }

  /** One change at a time per domain: a second waits for the first task to finish. */
  private async refuseBusy(domain: DomainRecord): Promise<void> {
    const running = await this.tasks.runningFor(domain.id);
    if (running)
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${domain.name} is busy: ${running.message} (task ${running.id}); wait for it, or destroy the domain`,
      );
  }

  /** Disks that named no volume at import may name one now (a volume created since). */
  private async relinkDisks(domain: DomainRecord): Promise<DomainRecord> {
    if (domain.disks.every((d) => d.volumeId !== null)) return domain;
    const volumes = await this.store.listVolumes();
    let changed = false;
    const disks = domain.disks.map((disk) => {
      if (disk.volumeId !== null) return disk;
      const link = linkDisk(disk.target, volumes);
      if (!link) return disk;
      changed = true;
      return { ...disk, volumeId: link.volume.id };
    });
    return changed ? this.store.updateDomain(domain.id, { disks }, domain.generation) : domain;
  }

  private async hostName(id: string): Promise<string> {
    return (await this.store.getHost(id))?.name ?? id;
  }
}
