/**
 * A host's maintenance (`etherplane host maintenance HOST`): nothing new is placed there, and
 * an evacuation task moves every domain running there away, one at a time, live (and, with
 * --allow-restart, shut down and started elsewhere when a live move fails or the domain is pinned
 * there). The whole plan is
 * checked before anything changes: a domain that cannot go anywhere refuses the maintenance with
 * the reason. `host activate` ends it and starts the pinned domains it stopped.
 */
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { DomainRecord, HostRecord, TaskRecord } from "../model.js";
import type { Store } from "../store/store.js";
import type { DomainLifecycle } from "./domain-lifecycle.js";
import type { DomainMover, MoveResult, WaitClock } from "./domain-mover.js";
import { REAL_WAIT_CLOCK, shutdownAndWait, START_WAIT_MS, waitForTask } from "./domain-mover.js";
import { isActive } from "./domain-service.js";
import type { EventLog } from "./event-log.js";
import type { PlacementService } from "./placement-service.js";
import type { TaskService } from "./task-service.js";

/** One domain's part of an evacuation. */
export type EvacuationStep =
  | { domain: string; action: "move"; to: string; live: boolean }
  | { domain: string; action: "stop"; why: string };

export interface EvacuationReport {
  moved: MoveResult[];
  /** Pinned here: shut down for the maintenance, started again by `host activate`. */
  stopped: string[];
}

export interface MaintenanceChange {
  host: HostRecord;
  task: TaskRecord;
  plan: EvacuationStep[];
}

export class MaintenanceService {
  /** The evacuations and activations under way, by host id (tests and shutdown wait on them). */
  private readonly jobs = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly tasks: TaskService,
    private readonly events: EventLog,
    private readonly placement: PlacementService,
    private readonly lifecycle: DomainLifecycle,
    /** `live` keeps guests running (live-mover.ts); `offline` is the --allow-restart fallback. */
    private readonly movers: { offline: DomainMover; live: DomainMover },
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly clock: WaitClock = REAL_WAIT_CLOCK,
  ) {}

  /** Resolves when every evacuation and activation under way has ended. */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs.values()]);
  }

  async enter(
    hostRef: string,
    options: { allowRestart: boolean; actor: string },
  ): Promise<MaintenanceChange> {
    const host = await this.host(hostRef);
    this.refuseBusy(host);
    const domains = await this.residents(host);
    const plan = await this.plan(host, domains, options.allowRestart);
    const task = await this.tasks.start(
      "host.evacuate",
      host.id,
      options.actor,
      `evacuating ${host.name}: ${domains.length} domain${domains.length === 1 ? "" : "s"}`,
    );
    const updated = await this.store.updateHost(host.id, {
      maintenance: {
        sinceMs: this.now(),
        by: options.actor,
        taskId: task.id,
        stoppedDomainIds: host.maintenance?.stoppedDomainIds ?? [],
      },
    });
    await this.events.record(
      "host.maintenance",
      host.name,
      `host ${host.name} goes into maintenance: nothing new is placed there; ${plan.length} domain${plan.length === 1 ? "" : "s"} to move`,
      { by: options.actor, task: task.id, allowRestart: options.allowRestart },
    );
    this.run(host.id, this.evacuate(updated, task, options));
    return { host: updated, task, plan };
  }

  async activate(hostRef: string, actor: string): Promise<{ host: HostRecord; task: TaskRecord }> {
    const host = await this.host(hostRef);
    if (host.maintenance === null)
      throw new EtherplaneError("CONFLICT", `host ${host.name} is not in maintenance`);
    this.refuseBusy(host);
    const stopped = host.maintenance.stoppedDomainIds;
    const updated = await this.store.updateHost(host.id, { maintenance: null });
    const task = await this.tasks.start(
      "host.activate",
      host.id,
      actor,
      `activating ${host.name}${stopped.length ? `: starting ${stopped.length} domain${stopped.length === 1 ? "" : "s"} it stopped` : ""}`,
    );
    await this.events.record(
      "host.activated",
      host.name,
      `host ${host.name} is active again: placement may choose it`,
      { by: actor, task: task.id },
    );
    this.run(host.id, this.restart(updated, stopped, task, actor));
    return { host: updated, task };
  }

  /** Every step, checked against placement as each earlier move leaves the cluster. */
  private async plan(
    host: HostRecord,
    residents: DomainRecord[],
    allowRestart: boolean,
  ): Promise<EvacuationStep[]> {
    const exclude = new Map([[host.id, `host ${host.name} goes into maintenance`]]);
    let domains = await this.store.listDomains();
    const steps: EvacuationStep[] = [];
    const problems: string[] = [];
    for (const domain of residents) {
      const plan = await this.placement.plan(domain, { exclude, domains });
      const to = plan.hosts.find((h) => h.hostId === plan.chosenHostId);
      const pinnedHere = domain.pinHosts.includes(host.id);
      if (!to && pinnedHere && allowRestart) {
        steps.push({ domain: domain.name, action: "stop", why: `pinned to ${host.name}` });
        continue;
      }
      if (!to) {
        const restart = pinnedHere
          ? `; give --allow-restart to shut it down for the maintenance (host activate ${host.name} starts it again)`
          : "";
        problems.push(`${domain.name} cannot go anywhere: ${plan.reason}${restart}`);
        continue;
      }
      steps.push({ domain: domain.name, action: "move", to: to.hostName, live: true });
      // The next domain's plan sees this one on its way there (its memory promised).
      domains = domains.map((d) =>
        d.id === domain.id
          ? { ...d, hostId: to.hostId, desiredState: "running", observed: null }
          : d,
      );
    }
    if (problems.length > 0)
      throw new EtherplaneError(
        "CONFLICT",
        `host ${host.name} cannot go into maintenance (nothing changed): ${problems.join("; ")}`,
        { params: { field: "host" } },
      );
    return steps;
  }

  private async evacuate(
    host: HostRecord,
    task: TaskRecord,
    options: { allowRestart: boolean; actor: string },
  ): Promise<void> {
    const report: EvacuationReport = { moved: [], stopped: [] };
    const exclude = new Map([[host.id, `host ${host.name} is in maintenance`]]);
    const residents = await this.residents(host);
    let index = 0;
    for (const domain of residents) {
      index++;
      const step = `${index} of ${residents.length}`;
      // Planned again now: the cluster may have changed since the check.
      const plan = await this.placement.plan(domain, { exclude });
      const to = plan.hosts.find((h) => h.hostId === plan.chosenHostId);
      if (!to && domain.pinHosts.includes(host.id) && options.allowRestart) {
        await this.tasks.progress(
          task.id,
          (index - 1) / residents.length,
          `stopping ${domain.name}, pinned to ${host.name} (${step})`,
        );
        await shutdownAndWait(this.store, this.lifecycle, domain, options.actor, this.clock);
        report.stopped.push(domain.name);
        await this.keepStopped(host.id, domain.id);
        await this.events.record(
          "host.evacuation_stopped",
          domain.name,
          `${domain.name} stopped for the maintenance of ${host.name} (pinned there)`,
          { host: host.name, task: task.id },
        );
        continue;
      }
      if (!to)
        throw new EtherplaneError("CONFLICT", `${domain.name} cannot go anywhere: ${plan.reason}`);
      await this.tasks.progress(
        task.id,
        (index - 1) / residents.length,
        `moving ${domain.name} to ${to.hostName} live (${step})`,
      );
      const moveOptions = { host: to.hostId, exclude, actor: options.actor };
      let moved;
      try {
        moved = await this.movers.live.move(domain, { ...moveOptions, live: true });
      } catch (error) {
        // Live where it can; a restart only when the administrator allowed one.
        if (!options.allowRestart) throw error;
        await this.events.record(
          "host.evacuation_restart",
          domain.name,
          `${domain.name} could not move live (${errorMessage(error)}): shutting it down and starting it on ${to.hostName}`,
          { host: host.name, task: task.id },
        );
        moved = await this.movers.offline.move(domain, { ...moveOptions, live: false });
      }
      report.moved.push(moved);
      await this.events.record(
        "host.evacuation_moved",
        domain.name,
        `${domain.name} moved from ${moved.from} to ${moved.to}${moved.live ? " live" : " (restarted)"}`,
        { from: moved.from, to: moved.to, live: moved.live, task: task.id },
      );
    }
    const said = [
      ...report.moved.map((m) => `${m.domain} -> ${m.to}`),
      ...report.stopped.map((name) => `${name} stopped`),
    ];
    const message = `${host.name} is in maintenance: ${said.length ? said.join(", ") : "nothing ran there"}`;
    await this.tasks.succeed(task.id, message, report);
    await this.events.record("host.evacuated", host.name, message, { task: task.id });
  }

  private async restart(
    host: HostRecord,
    ids: readonly string[],
    task: TaskRecord,
    actor: string,
  ): Promise<void> {
    const started: string[] = [];
    for (const id of ids) {
      const domain = await this.store.getDomain(id);
      if (!domain || isActive(domain)) continue;
      await this.tasks.progress(
        task.id,
        started.length / ids.length,
        `starting ${domain.name} on ${host.name}`,
      );
      const start = await this.lifecycle.start(domain.id, actor, { host: host.id });
      await waitForTask(this.store, start.task.id, START_WAIT_MS, this.clock);
      started.push(domain.name);
    }
    await this.tasks.succeed(
      task.id,
      `${host.name} is active${started.length ? `; started ${started.join(", ")}` : ""}`,
      { started },
    );
  }

  /** Runs a job in the background: its failure fails its task and is an event. */
  private run(hostId: string, job: Promise<void>): void {
    const tracked = job
      .catch(async (error: unknown) => {
        const running = await this.tasks.runningFor(hostId);
        const host = await this.store.getHost(hostId);
        const name = host?.name ?? hostId;
        const message = `${running?.kind === "host.activate" ? "activation" : "evacuation"} of ${name} stopped: ${errorMessage(error)}`;
        if (running) await this.tasks.fail(running.id, "CONFLICT", message);
        await this.events.record("host.evacuation_failed", name, message, {
          task: running?.id ?? null,
        });
      })
      .catch((error: unknown) => this.log.error(`host ${hostId}: ${errorMessage(error)}`))
      .finally(() => this.jobs.delete(hostId));
    this.jobs.set(hostId, tracked);
  }

  private async keepStopped(hostId: string, domainId: string): Promise<void> {
    const host = await this.store.getHost(hostId);
    if (!host?.maintenance) return;
    const ids = new Set([...host.maintenance.stoppedDomainIds, domainId]);
    await this.store.updateHost(hostId, {
      maintenance: { ...host.maintenance, stoppedDomainIds: [...ids] },
    });
  }

  private refuseBusy(host: HostRecord): void {
    if (this.jobs.has(host.id))
      throw new EtherplaneError(
        "CONFLICT",
        `host ${host.name} is busy: ${host.maintenance?.taskId ? `task ${host.maintenance.taskId} ` : ""}is under way; wait for it (etherplane task list)`,
      );
  }

  /** The domains that run (or should) on the host, by name. */
  private async residents(host: HostRecord): Promise<DomainRecord[]> {
    return (await this.store.listDomains({ hostId: host.id })).filter(isActive);
  }

  private async host(ref: string): Promise<HostRecord> {
    const host = (await this.store.getHost(ref)) ?? (await this.store.findHostByName(ref));
    if (!host)
      throw new EtherplaneError("NOT_FOUND", `no host "${ref}"; see etherplane host list`, {
        params: { field: "host" },
      });
    return host;
  }
}
