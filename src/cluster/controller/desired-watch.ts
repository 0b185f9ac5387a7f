/**
 * Desired state on change only: each host's desired state has a revision (a hash of its content),
 * and an agent's long-poll (`GET /agent/desired?after=REV&waitMs=N`) waits here until something
 * that can change its host's desired state was written (notifying-store.ts), or until its wait
 * ends. Changes name the hosts they concern, so a write wakes only those hosts' agents (at 1,000
 * agents, waking all of them for each write made each recompute its state: docs/benchmarks.md);
 * a change that cannot say wakes everyone. Changes are coalesced: one wake-up per COALESCE_MS
 * however many writes a request made.
 */
import { createHash } from "node:crypto";
import { EtherplaneError } from "../../foundation/errors.js";
import type { Concerned } from "../store/notifying-store.js";

const COALESCE_MS = 20;
/** At most this many long-polls wait at once (one per agent; far above a real cluster). */
export const WAITERS_MAX = 20_000;
export const LONG_POLL_WAIT_MS_MAX = 60_000;
/** Beyond this many hosts with epochs of their own, a change concerns everyone (and resets them). */
const HOSTS_NAMED_MAX = 20_000;

/** The revision of a desired state: the same content, the same revision, even across restarts. */
export function revisionOf(content: unknown): string {
  return createHash("sha256").update(JSON.stringify(content)).digest("hex").slice(0, 24);
}

export class DesiredWatch {
  /** Counts changes; a host's epoch is the last change that concerned it. */
  private round = 0;
  /** The last change that concerned every host. */
  private allEpoch = 0;
  /** The last change that named the host, when after `allEpoch` (cleared by one for all). */
  private readonly hostEpochs = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private waiting = 0;
  private pending: NodeJS.Timeout | undefined;
  private pendingAll = false;
  private readonly pendingHosts = new Set<string>();
  private closed = false;

  /** Changes so far that concerned `hostId`: equal epochs mean its desired state's inputs are too. */
  epochOf(hostId: string): number {
    return Math.max(this.allEpoch, this.hostEpochs.get(hostId) ?? 0);
  }

  /**
   * Something the desired states of `hosts` are made of changed: their epochs move at once (a
   * cached desired state is stale from now on), their waiters look again soon.
   */
  changed(hosts: Concerned = "all"): void {
    this.round++;
    if (hosts === "all" || this.hostEpochs.size + hosts.length > HOSTS_NAMED_MAX) {
      this.allEpoch = this.round;
      this.hostEpochs.clear();
      this.pendingAll = true;
      this.pendingHosts.clear();
    } else {
      for (const host of hosts) this.hostEpochs.set(host, this.round);
      if (!this.pendingAll) for (const host of hosts) this.pendingHosts.add(host);
    }
    this.pending ??= setTimeout(() => this.wake(), COALESCE_MS);
  }

  private wake(): void {
    this.pending = undefined;
    const woken = this.pendingAll
      ? [...this.waiters.values()].flatMap((set) => [...set])
      : [...this.pendingHosts].flatMap((host) => [...(this.waiters.get(host) ?? [])]);
    this.pendingAll = false;
    this.pendingHosts.clear();
    for (const wake of woken) wake();
  }

  /** Whether `close` was called: a wait ends at once, and a long-poll answers "no change". */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves soon after the first change for `hostId` after `epoch` (at once if there was one),
   * or after `waitMs`, or when the watch closes (at once if it has). */
  next(hostId: string, epoch: number, waitMs: number): Promise<void> {
    if (this.closed || epoch !== this.epochOf(hostId) || waitMs <= 0) return Promise.resolve();
    if (this.waiting >= WAITERS_MAX)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `${WAITERS_MAX} agents are waiting for changes already; retry without waiting`,
      );
    return new Promise((resolve) => {
      let set = this.waiters.get(hostId);
      if (!set) this.waiters.set(hostId, (set = new Set()));
      const mine = set;
      const done = () => {
        clearTimeout(timer);
        if (mine.delete(done)) this.waiting--;
        if (mine.size === 0 && this.waiters.get(hostId) === mine) this.waiters.delete(hostId);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      mine.add(done);
      this.waiting++;
    });
  }

  /** Ends every wait now, and every later one at once (the controller stops). */
  close(): void {
    this.closed = true;
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake();
  }
}
