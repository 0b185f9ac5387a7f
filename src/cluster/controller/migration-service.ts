/**
 * Moving a running domain to another host (`etherplane migrate NAME [HOST]`). Live: the guest's
 * state is copied while it runs (the hypervisor's own migration, through the agents' streams the
 * controller pipes: migration-broker.ts). Offline: the guest is shut down (destroyed after its
 * timeout) and started on the destination.
 *
 * Live, step by step, each confirmed before the next:
 *  1. checks as `start` makes them (placement.ts), on the destination;
 *  2. the domain's volumes are served to both hosts (the storage agents report the generation);
 *  3. the destination brings up the disks and a guest waiting for its state (receive/run);
 *  4. the source sends (send/run); its progress goes to the task;
 *  5. switch-over: once the destination reports its guest running, the domain's host becomes
 *     the destination, in one store update; the source destroys its stopped copy (send/finish);
 *  6. the volumes are served to the destination alone.
 * A failure before 5 aborts: the destination's copy is destroyed (receive/abort), the source's
 * runs on (the hypervisor resumes it; send/abort resumes a copy left paused), and access goes
 * back to the source alone. Whichever host reports a running guest after the transfer wins: the
 * destination's only runs once the whole state arrived, so never both.
 */
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { ObservedMigration } from "../agent-protocol.js";
import type { DomainRecord, HostRecord, TaskRecord } from "../model.js";
import type { Store } from "../store/store.js";
import type { DomainLifecycle } from "./domain-lifecycle.js";
import type { DomainService } from "./domain-service.js";
import type { MigrationBroker, MigrationSession } from "./migration-broker.js";
import type { MigrationPlan } from "./migration-recovery.js";
import { desiredDomain } from "./placed-spec.js";
import type { PlacementService } from "./placement-service.js";
import type { TaskService } from "./task-service.js";
import type { VolumeGrants } from "./volume-grants.js";

/** How long each confirmed step may take (a storage agent applying access, a guest to wait). */
export interface MigrationTimeouts {
  accessMs: number;
  prepareMs: number;
  transferMs: number;
  /** The source destroying its copy, or the destination discarding its own, after the fact. */
  cleanupMs: number;
  /** Offline: the graceful shutdown before a destroy. */
  shutdownS: number;
  pollMs: number;
}

export const MIGRATION_TIMEOUTS_DEFAULT: MigrationTimeouts = {
  accessMs: 60_000,
  prepareMs: 120_000,
  transferMs: 10 * 60_000,
  cleanupMs: 60_000,
  shutdownS: 60,
  pollMs: 100,
};

export interface MigrateOptions {
  /** The destination (id or name); placement picks one when absent. */
  host?: string;
  live: boolean;
  actor: string;
}

/** A migration's final report (the task's result). */
export interface MigrationResult {
  domainId: string;
  from: string;
  to: string;
  live: boolean;
  totalTimeMs: number;
  downtimeMs: number | null;
  transferredBytes: number;
}

class Aborted extends Error {}

/** How long a source's failure waits for the destination's own report (one agent pass or so). */
const RECEIVE_REPORT_MS = 5000;

export class MigrationService {
  /** The migrations running now, by domain id (their promise, for tests and shutdown). */
  readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly domains: DomainService,
    private readonly lifecycle: DomainLifecycle,
    private readonly tasks: TaskService,
    private readonly grants: VolumeGrants,
    private readonly broker: MigrationBroker,
    private readonly placement: PlacementService,
    private readonly log: Logger,
    private readonly timeouts: MigrationTimeouts = MIGRATION_TIMEOUTS_DEFAULT,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Checks, then starts moving the domain; resolves with its task once the checks passed (the
   * move goes on in the background; the task tells how it went). Nothing has moved when it
   * rejects.
   */
  async migrate(
    ref: string,
    options: MigrateOptions,
  ): Promise<{ domain: DomainRecord; task: TaskRecord }> {
    const domain = await this.domains.get(ref);
    const source = domain.hostId;
    if (
      source === null ||
      domain.desiredState !== "running" ||
      domain.observed?.state !== "running" ||
      domain.placed === null
    )
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${domain.name} is not running, so there is nothing to migrate: etherplane start ${domain.name} --host HOST`,
      );
    const busy = await this.tasks.runningFor(domain.id);
    if (busy)
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${domain.name} is busy: ${busy.message} (task ${busy.id}); wait for it`,
      );
    const hosts = await this.store.listHosts();
    const from = hosts.find((h) => h.id === source);
    if (options.host !== undefined) {
      const named = hosts.find((h) => h.id === options.host || h.name === options.host);
      if (named?.id === source)
        throw new EtherplaneError(
          "CONFLICT",
          `domain ${domain.name} already runs on ${named.name}`,
          {
            params: { field: "host" },
          },
        );
    }
    // The source is excluded with its reason, so `etherplane place`-style reasons name it.
    const exclude = new Map([[source, "the domain runs there now"]]);
    const { host: to } = await this.placement.choose(domain, options.host, { exclude });
    const kind = to.inventory?.hypervisor?.kind;
    if (options.live && kind !== from?.inventory?.hypervisor?.kind)
      throw new EtherplaneError(
        "CONFLICT",
        `host ${to.name} runs ${kind ?? "no hypervisor"} and ${from?.name ?? source} ${from?.inventory?.hypervisor?.kind ?? "none"}: a live migration needs the same one (or --offline)`,
      );
    const fromName = from?.name ?? source;
    const task = await this.tasks.start(
      options.live ? "domain.migrate" : "domain.migrate-offline",
      domain.id,
      options.actor,
      `migrating ${domain.name} from ${fromName} to ${to.name}${options.live ? "" : " (offline)"}`,
    );
    // The plan, for a controller restarted before the end (migration-recovery.ts).
    const plan: MigrationPlan = { from: source, to: to.id };
    await this.store.updateTask(task.id, { result: plan });
    const run = (
      options.live
        ? this.live(domain, fromName, to, task)
        : this.offline(domain, fromName, to, task)
    )
      .catch((error: unknown) =>
        this.log.error(`migration of ${domain.name}: ${errorMessage(error)}`),
      )
      .finally(() => this.running.delete(domain.id));
    this.running.set(domain.id, run);
    return { domain, task };
  }

  private async live(
    domain: DomainRecord,
    fromName: string,
    to: HostRecord,
    task: TaskRecord,
  ): Promise<void> {
    const sourceId = domain.hostId ?? "";
    const startedMs = this.now();
    const placed = domain.placed;
    if (placed === null) throw new Error("checked above");
    const progress = (fraction: number, message: string) =>
      this.tasks.progress(task.id, fraction, message).then(() => undefined);
    let session: MigrationSession | undefined;
    let switched = false;
    try {
      // 2. Both hosts reach the volumes.
      await progress(0.02, `${domain.name}: opening its volumes to ${to.name} too`);
      await this.grants.grantSecond(domain, to);
      await this.until(
        task,
        "the storage hosts to open the volumes to both hosts",
        this.timeouts.accessMs,
        () => this.grants.applied(domain, to.id),
      );
      // 3. The destination waits for the guest.
      session = this.broker.open(desiredDomain(domain, placed), sourceId, to.id);
      const s = session;
      this.broker.setPhase(s.id, "receive", "run");
      await progress(0.05, `${domain.name}: ${to.name} prepares its disks and a waiting guest`);
      await this.until(task, `${to.name} to prepare the guest`, this.timeouts.prepareMs, () => {
        const seen = this.side(s, "receive");
        if (seen?.state === "failed")
          throw new EtherplaneError("UNAVAILABLE", `${to.name}: ${seen.error ?? "failed"}`);
        return seen?.state === "ready";
      });
      // 4. The source sends; 5. the destination's guest runs.
      this.broker.setPhase(s.id, "send", "run");
      let lastMessage = "";
      await this.until(
        task,
        `the guest to run on ${to.name}`,
        this.timeouts.transferMs,
        async () => {
          const receive = this.side(s, "receive");
          if (receive?.state === "running") return true;
          if (receive?.state === "failed")
            throw new EtherplaneError("UNAVAILABLE", `${to.name}: ${receive.error ?? "failed"}`);
          const send = this.side(s, "send");
          if (send?.state === "failed") {
            // The source only sees its stream break; the destination says why, when it failed.
            const why = await this.receiveFailure(s);
            throw new EtherplaneError(
              "UNAVAILABLE",
              why === undefined
                ? `${fromName}: ${send.error ?? "failed"}`
                : `${to.name}: ${why} (${fromName}: ${send.error ?? "failed"})`,
            );
          }
          const p = send?.progress;
          if (p && p.totalBytes > 0) {
            const message =
              `${domain.name}: ${Math.round(p.transferredBytes / 2 ** 20)} MiB sent, ` +
              `${Math.round(p.remainingBytes / 2 ** 20)} MiB to go, ${p.dirtyPagesRate} dirty pages/s` +
              (p.expectedDowntimeMs === null
                ? ""
                : `, expected downtime ${p.expectedDowntimeMs} ms`);
            if (message !== lastMessage) {
              lastMessage = message;
              const done = p.totalBytes > 0 ? 1 - p.remainingBytes / p.totalBytes : 0;
              await progress(0.1 + 0.8 * Math.min(1, Math.max(0, done)), message);
            }
          }
          return false;
        },
      );
      // Switch-over: one store update; the destination's agent owns the domain from now on.
      await this.store.updateDomain(domain.id, { hostId: to.id });
      switched = true;
      this.broker.setPhase(s.id, "receive", null);
      this.broker.setPhase(s.id, "send", "finish");
      await progress(0.92, `${domain.name} runs on ${to.name}; closing its volumes to ${fromName}`);
      // 6. The destination alone: the source's copy gone first, then its access.
      const cleaned = await this.waitQuietly(
        this.timeouts.cleanupMs,
        () => this.side(s, "send")?.state === "done",
      );
      await this.grants.revokeHost(domain, sourceId);
      await this.until(
        task,
        "the storage hosts to close the volumes to the source",
        this.timeouts.accessMs,
        () => this.grants.settled(domain),
        false,
      );
      const sent = this.side(s, "send")?.report;
      const result: MigrationResult = {
        domainId: domain.id,
        from: fromName,
        to: to.name,
        live: true,
        totalTimeMs: this.now() - startedMs,
        downtimeMs: sent?.downtimeMs ?? null,
        transferredBytes: s.bytes,
      };
      await this.tasks.succeed(
        task.id,
        `${domain.name} moved from ${fromName} to ${to.name} in ${(result.totalTimeMs / 1000).toFixed(1)} s` +
          (result.downtimeMs === null ? "" : `, downtime ${result.downtimeMs} ms`) +
          `, ${Math.round(result.transferredBytes / 2 ** 20)} MiB sent` +
          (cleaned
            ? ""
            : ` (${fromName} did not confirm its copy is gone yet; its agent destroys it when it reports)`),
        result,
      );
      this.log.info(`domain ${domain.name} migrated from ${fromName} to ${to.name}`, { ...result });
      // The source's finish entry stays until it reports done, within the session's bound.
      if (cleaned) this.broker.close(s.id);
    } catch (error) {
      if (switched) {
        await this.fail(task, error, `${domain.name} runs on ${to.name}, but`);
        return;
      }
      await this.abort(domain, sourceId, to, session);
      await this.fail(task, error, `${domain.name} stays on ${fromName}:`);
    }
  }

  /** Back to one copy on the source: the destination's discarded, access to the source alone. */
  private async abort(
    domain: DomainRecord,
    sourceId: string,
    to: HostRecord,
    session?: MigrationSession,
  ): Promise<void> {
    if (session) {
      const s = session;
      this.broker.setPhase(s.id, "receive", "abort");
      this.broker.setPhase(s.id, "send", this.side(s, "send") ? "abort" : null);
      const discarded = await this.waitQuietly(this.timeouts.cleanupMs, () => {
        const receive = this.side(s, "receive");
        return receive === undefined || receive.state === "done";
      });
      if (!discarded)
        this.log.warn(`migration of ${domain.name}: ${to.name} did not confirm the discard`);
      await this.waitQuietly(this.timeouts.cleanupMs, () => {
        const send = this.side(s, "send");
        return send === undefined || send.state === "done" || send.state === "failed";
      });
      this.broker.close(s.id);
    }
    try {
      // HA may have restarted the domain elsewhere meanwhile (the source's host died): then
      // its volumes are that host's now, and the source's access is the fencing's business.
      const now = await this.store.getDomain(domain.id);
      if (now && now.hostId !== sourceId) {
        this.log.warn(
          `migration of ${domain.name}: the domain was moved meanwhile (HA); its access is left as it is`,
        );
        return;
      }
      if (to.id !== sourceId) await this.grants.revokeHost(domain, to.id);
      await this.waitQuietly(this.timeouts.accessMs, () => this.grants.settled(domain));
    } catch (error) {
      this.log.warn(
        `migration of ${domain.name}: access back to the source: ${errorMessage(error)}`,
      );
    }
  }

  /** Offline: shutdown (destroy after the timeout), then start on the destination. */
  private async offline(
    domain: DomainRecord,
    fromName: string,
    to: HostRecord,
    task: TaskRecord,
  ): Promise<void> {
    try {
      await this.tasks.progress(task.id, 0.1, `${domain.name}: shutting down on ${fromName}`);
      await this.store.updateDomain(domain.id, {
        desiredState: "stopped",
        stopMode: "shutdown",
        shutdownTimeoutS: this.timeouts.shutdownS,
      });
      await this.until(
        task,
        `${domain.name} to stop on ${fromName}`,
        this.timeouts.shutdownS * 1000 + this.timeouts.cleanupMs,
        async () => (await this.store.getDomain(domain.id))?.observed?.state === "stopped",
      );
      await this.tasks.succeed(
        task.id,
        `${domain.name} stopped on ${fromName}; starting on ${to.name}`,
      );
      const started = await this.lifecycle.start(domain.id, task.createdBy, { host: to.id });
      await this.tasks.progress(
        started.task.id,
        0.5,
        `${domain.name}: starting on ${to.name} (after stopping on ${fromName})`,
      );
    } catch (error) {
      if ((await this.store.getTask(task.id))?.state === "running")
        await this.fail(task, error, `${domain.name}:`);
      else throw error;
    }
  }

  /** The destination's failure, when it reports one within RECEIVE_REPORT_MS. */
  private async receiveFailure(session: MigrationSession): Promise<string | undefined> {
    let why: string | undefined;
    await this.waitQuietly(RECEIVE_REPORT_MS, () => {
      const receive = this.side(session, "receive");
      if (receive?.state === "failed") why = receive.error ?? "failed";
      return why !== undefined || receive?.state === "running";
    });
    return why;
  }

  private side(session: MigrationSession, role: "send" | "receive"): ObservedMigration | undefined {
    return this.broker.get(session.id)?.[role].observed ?? undefined;
  }

  private async fail(task: TaskRecord, error: unknown, prefix: string): Promise<void> {
    const code = error instanceof EtherplaneError ? error.code : "INTERNAL";
    const current = await this.store.getTask(task.id);
    if (current?.state !== "running") return; // e.g. failed by a destroy that overrode it
    await this.tasks.fail(task.id, code, `${prefix} ${errorMessage(error)}`);
  }

  /**
   * Polls `done` until it holds; TIMEOUT after `ms`. With `watchTask`, stops (Aborted) when the
   * task ended meanwhile (a destroy overrides a migration).
   */
  private async until(
    task: TaskRecord,
    what: string,
    ms: number,
    done: () => Promise<boolean> | boolean,
    watchTask = true,
  ): Promise<void> {
    const deadline = this.now() + ms;
    for (;;) {
      if (await done()) return;
      if (watchTask && (await this.store.getTask(task.id))?.state !== "running")
        throw new Aborted(`task ${task.id} ended meanwhile`);
      if (this.now() > deadline)
        throw new EtherplaneError(
          "TIMEOUT",
          `timed out after ${Math.round(ms / 1000)} s waiting for ${what}`,
        );
      await new Promise((resolve) => setTimeout(resolve, this.timeouts.pollMs));
    }
  }

  private async waitQuietly(ms: number, done: () => Promise<boolean> | boolean): Promise<boolean> {
    const deadline = this.now() + ms;
    while (this.now() <= deadline) {
      if (await done()) return true;
      await new Promise((resolve) => setTimeout(resolve, this.timeouts.pollMs));
    }
    return false;
  }
}
