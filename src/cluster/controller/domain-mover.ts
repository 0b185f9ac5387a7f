/**
 * Moving a running domain to another host. `DomainMover` is what an evacuation calls: live
 * (the guest keeps running; the migration service, issue 11 item 1, implements it) or offline.
 * `OfflineMover` is the offline one: a graceful shutdown (destroyed after the domain's
 * shutdown timeout, as `etherplane shutdown` does), then a start on the host placement chooses,
 * each step through the lifecycle and its task, each wait bounded.
 */
import { EtherplaneError, errorMessage, isEtherplaneError } from "../../foundation/errors.js";
import type { DomainRecord, TaskRecord } from "../model.js";
import type { Store } from "../store/store.js";
import type { DomainLifecycle } from "./domain-lifecycle.js";

export interface MoveOptions {
  /** Keep the guest running (a live migration); false: shut down and start elsewhere. */
  live: boolean;
  /** The destination (name or id); placement chooses when absent. */
  host?: string;
  /** Hosts placement must not choose, with why (the source, in maintenance). */
  exclude?: ReadonlyMap<string, string>;
  actor: string;
}

export interface MoveResult {
  domain: string;
  from: string;
  to: string;
  live: boolean;
}

export interface DomainMover {
  /** Whether this mover keeps guests running. */
  readonly live: boolean;
  /** Resolves once the domain runs on its new host; rejects (with the reason) otherwise. */
  move(domain: DomainRecord, options: MoveOptions): Promise<MoveResult>;
}

export interface WaitClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const REAL_WAIT_CLOCK: WaitClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** How often a wait reads the task again. */
export const TASK_POLL_MS = 100;
/** A start may boot a guest under TCG: minutes, but not forever. */
export const START_WAIT_MS = 600_000;
/** Beyond the domain's shutdown timeout, for the agent to destroy it and report. */
export const SHUTDOWN_GRACE_MS = 60_000;

/** Waits for a task to end (bounded); rejects with its error when it failed. */
export async function waitForTask(
  store: Store,
  taskId: string,
  timeoutMs: number,
  clock: WaitClock = REAL_WAIT_CLOCK,
): Promise<TaskRecord> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const task = await store.getTask(taskId);
    if (!task) throw new EtherplaneError("NOT_FOUND", `task ${taskId} vanished`);
    if (task.state === "failed")
      throw new EtherplaneError("CONFLICT", task.error?.message ?? task.message);
    if (task.state === "succeeded") return task;
    if (clock.now() > deadline)
      throw new EtherplaneError(
        "TIMEOUT",
        `${task.message}: not done after ${Math.round(timeoutMs / 1000)} s (task ${task.id} goes on)`,
      );
    await clock.sleep(TASK_POLL_MS);
  }
}

/**
 * A graceful shutdown of `domain` through the lifecycle (destroyed after its shutdown timeout, as
 * `etherplane shutdown` does), waited for through its task; rejects when it failed.
 */
export async function shutdownAndWait(
  store: Store,
  lifecycle: DomainLifecycle,
  domain: DomainRecord,
  actor: string,
  clock: WaitClock,
): Promise<void> {
  const stop = await lifecycle.shutdown(domain.id, actor);
  await waitForTask(store, stop.task.id, domain.shutdownTimeoutS * 1000 + SHUTDOWN_GRACE_MS, clock);
}

export class OfflineMover implements DomainMover {
  readonly live = false;

  constructor(
    private readonly store: Store,
    private readonly lifecycle: DomainLifecycle,
    private readonly clock: WaitClock = REAL_WAIT_CLOCK,
  ) {}

  async move(domain: DomainRecord, options: MoveOptions): Promise<MoveResult> {
    const from = domain.hostId ? ((await this.store.getHost(domain.hostId))?.name ?? "?") : "?";
    await shutdownAndWait(this.store, this.lifecycle, domain, options.actor, this.clock);
    let start;
    try {
      start = await this.lifecycle.start(domain.id, options.actor, {
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.exclude ? { placement: { exclude: options.exclude } } : {}),
      });
      await waitForTask(this.store, start.task.id, START_WAIT_MS, this.clock);
    } catch (error) {
      // The guest is down: say so, and how to bring it back, with the start's own reason.
      throw new EtherplaneError(
        isEtherplaneError(error) ? error.code : "UNAVAILABLE",
        `${domain.name} was shut down on ${from} but did not start elsewhere: ${errorMessage(error)}; ` +
          `start it with etherplane start ${domain.name} [--host HOST]`,
        { cause: error },
      );
    }
    const to = (await this.store.getHost(start.domain.hostId ?? ""))?.name ?? "?";
    return { domain: domain.name, from, to, live: false };
  }
}
