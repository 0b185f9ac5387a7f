/**
 * A controller that restarts (killed, crashed) forgets the migrations it was running: their
 * sessions and streams lived in its memory (migration-broker.ts), their tasks in the store. Once
 * at start, each migration task left running is ended here, leaving one copy of the guest:
 *
 *  1. the plan (source, destination) is read from the task (MigrationService records it);
 *  2. both hosts are asked which copy runs: each agent's next report lists every guest its
 *     hypervisor has (AgentStatus.guests), waited for up to `reportMs`;
 *  3. the copy that runs is kept. The store's host wins unless only the other host runs the
 *     guest: the "undefined" outcome of a switch-over the old controller did not record (the
 *     destination only runs once the whole state arrived, and the source's copy stays stopped:
 *     migration-relay.ts keeps a copy it sent whole from being resumed);
 *  4. the other host is told to drop its copy through a new session (the destination discards
 *     its waiting guest, receive/abort; the source destroys its stopped one, send/finish), and a
 *     source that keeps the guest resumes it if the transfer left it paused (send/abort);
 *  5. the volumes are served to the keeper alone, and the task ends with what happened.
 * A host that does not report in time is told the same when its agent comes back, within the
 * session's lifetime (MIGRATION_SESSION_MS_MAX).
 */
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { AgentStatus, HostGuest } from "../agent-protocol.js";
import type { DomainRecord, TaskRecord } from "../model.js";
import type { Store } from "../store/store.js";
import type { MigrationBroker } from "./migration-broker.js";
import { desiredDomain } from "./placed-spec.js";
import type { TaskService } from "./task-service.js";
import type { VolumeGrants } from "./volume-grants.js";

/** What a running migration task holds in its result until it ends (MigrationService). */
export interface MigrationPlan {
  from: string;
  to: string;
}

export function parseMigrationPlan(value: unknown): MigrationPlan | undefined {
  const plan = value as { from?: unknown; to?: unknown } | null;
  return typeof plan?.from === "string" && typeof plan.to === "string"
    ? { from: plan.from, to: plan.to }
    : undefined;
}

export interface RecoveryTimeouts {
  /** How long both hosts may take to report after the start (agents report every 30 s). */
  reportMs: number;
  /** How long the hosts may take to confirm they dropped (or resumed) their copies. */
  cleanupMs: number;
  pollMs: number;
}

export const RECOVERY_TIMEOUTS_DEFAULT: RecoveryTimeouts = {
  reportMs: 90_000,
  cleanupMs: 60_000,
  pollMs: 200,
};

type Copy = HostGuest["state"] | "none" | "unknown";
const COPY_WORDS: Record<Copy, string> = {
  running: "running",
  paused: "paused",
  stopped: "stopped",
  none: "gone",
  unknown: "not reported",
};

export interface ReportSource {
  onReport(listener: (hostId: string, status: AgentStatus) => void): () => void;
}

export class MigrationRecovery {
  constructor(
    private readonly store: Store,
    private readonly tasks: TaskService,
    private readonly grants: VolumeGrants,
    private readonly broker: MigrationBroker,
    private readonly reports: ReportSource,
    private readonly log: Logger,
    private readonly timeouts: RecoveryTimeouts = RECOVERY_TIMEOUTS_DEFAULT,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Ends every migration task a previous controller left running. Call once at start, before the
   * agents are served, so that no report is missed.
   */
  async recover(): Promise<void> {
    const heard = new Map<string, HostGuest[]>();
    const unlisten = this.reports.onReport((hostId, status) => {
      if (status.guests) heard.set(hostId, status.guests);
    });
    try {
      const left = (await this.store.listTasks({ state: "running" })).filter(
        (t) => t.kind === "domain.migrate" || t.kind === "domain.migrate-offline",
      );
      await Promise.all(
        left.map((task) =>
          this.settle(task, heard).catch(async (error: unknown) => {
            this.log.error(`migration task ${task.id} after a restart: ${errorMessage(error)}`);
            await this.end(task, "failed", `the controller restarted: ${errorMessage(error)}`);
          }),
        ),
      );
    } finally {
      unlisten();
    }
  }

  private async settle(task: TaskRecord, heard: ReadonlyMap<string, HostGuest[]>): Promise<void> {
    const domain = task.subjectId ? await this.store.getDomain(task.subjectId) : undefined;
    if (!domain) {
      await this.end(task, "failed", "the controller restarted during it; its domain is gone");
      return;
    }
    const hostName = async (id: string | null) =>
      id === null ? "no host" : ((await this.store.getHost(id))?.name ?? id);
    const plan = parseMigrationPlan(task.result);
    if (task.kind === "domain.migrate-offline" || !plan || domain.placed === null) {
      // Offline: a shutdown then a start, each a step the agents finish by themselves.
      const state = domain.observed?.state ?? "stopped";
      await this.end(
        task,
        "failed",
        `the controller restarted during it: ${domain.name} is ${state} on ${await hostName(domain.hostId)}` +
          (domain.desiredState === "running"
            ? ""
            : `; etherplane start ${domain.name} --host HOST`),
      );
      return;
    }
    const owner = domain.hostId === plan.to ? plan.to : plan.from;
    const other = owner === plan.to ? plan.from : plan.to;
    const copy = (hostId: string): Copy => {
      const guests = heard.get(hostId);
      if (!guests) return "unknown";
      const guest = guests.find(
        (g) => g.name === domain.name && g.uuid.toLowerCase() === domain.uuid.toLowerCase(),
      );
      return guest?.state ?? "none";
    };
    await this.waitQuietly(this.timeouts.reportMs, () => heard.has(owner) && heard.has(other));
    // The undefined outcome: only the host the store does not name runs it. Otherwise the
    // store's host keeps it (never both: the one that does not run it drops its copy).
    const seen = new Map([plan.from, plan.to].map((id) => [id, copy(id)]));
    const seenOn = (id: string): Copy => seen.get(id) ?? "unknown";
    const keeper = seenOn(other) === "running" && seenOn(owner) !== "running" ? other : owner;
    const dropper = keeper === plan.to ? plan.from : plan.to;
    const [fromName, toName, keeperName, dropperName] = await Promise.all(
      [plan.from, plan.to, keeper, dropper].map(hostName),
    );
    this.log.warn(
      `migration of ${domain.name} (${fromName} -> ${toName}) left by a restart: ` +
        `${fromName} ${seenOn(plan.from)}, ${toName} ${seenOn(plan.to)}; it stays on ${keeperName}`,
    );
    let current: DomainRecord = domain;
    if (keeper !== owner) current = await this.store.updateDomain(domain.id, { hostId: keeper });
    const placed = current.placed ?? domain.placed;
    const session = this.broker.open(desiredDomain(current, placed), plan.from, plan.to);
    const moved = keeper === plan.to;
    if (moved) this.broker.setPhase(session.id, "send", "finish");
    else {
      this.broker.setPhase(session.id, "receive", "abort");
      this.broker.setPhase(session.id, "send", "abort");
    }
    const confirmed = await this.waitQuietly(this.timeouts.cleanupMs, () => {
      const s = this.broker.get(session.id);
      const ended = (role: "send" | "receive") => {
        const side = s?.[role];
        return side?.phase === null || side?.observed?.state === "done";
      };
      return ended("send") && ended("receive");
    });
    const refusal = [this.broker.get(session.id)?.send, this.broker.get(session.id)?.receive]
      .map((side) => (side?.observed?.state === "failed" ? side.observed.error : null))
      .find((e) => e);
    // Unconfirmed: the session stays for the silent agent to act on when it comes back.
    if (confirmed) this.broker.close(session.id);
    await this.grants.revokeHost(current, dropper);
    await this.waitQuietly(this.timeouts.cleanupMs, () => this.grants.settled(current));
    const why =
      seenOn(dropper) === "unknown"
        ? `${dropperName} did not report within ${Math.round(this.timeouts.reportMs / 1000)} s`
        : `${fromName}'s copy was ${COPY_WORDS[seenOn(plan.from)]}, ${toName}'s ${COPY_WORDS[seenOn(plan.to)]}`;
    const cleanup = confirmed
      ? `${dropperName}'s copy is gone`
      : refusal
        ? `${dropperName} refused to drop its copy: ${refusal}`
        : `${dropperName} did not confirm its copy is gone yet (its agent drops it when it reports)`;
    const message = moved
      ? `${domain.name} runs on ${keeperName}: the controller restarted during the migration from ${fromName} (${why}); ${cleanup}`
      : `${domain.name} stays on ${keeperName}: the controller restarted during the migration to ${toName} (${why}); ${cleanup}`;
    await this.end(task, moved ? "succeeded" : "failed", message, {
      domainId: domain.id,
      from: fromName,
      to: toName,
      live: true,
      recovered: true,
      runsOn: keeperName,
    });
  }

  private async end(
    task: TaskRecord,
    state: "succeeded" | "failed",
    message: string,
    result: unknown = null,
  ): Promise<void> {
    if ((await this.store.getTask(task.id))?.state !== "running") return;
    if (state === "succeeded") await this.tasks.succeed(task.id, message, result);
    else await this.tasks.fail(task.id, "UNAVAILABLE", message);
  }

  private async waitQuietly(ms: number, done: () => Promise<boolean> | boolean): Promise<boolean> {
    const deadline = this.now() + ms;
    for (;;) {
      if (await done()) return true;
      if (this.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, this.timeouts.pollMs));
    }
  }
}
