/**
 * Desired state on change only: each host's desired state has a revision (a hash of its content),
 * and an agent's long-poll (`GET /agent/desired?after=REV&waitMs=N`) waits here until something
 * that can change a desired state was written (notifying-store.ts), or until its wait ends.
 * Changes are coalesced: one wake-up per COALESCE_MS however many writes a request made.
 */
import { createHash } from "node:crypto";
import { EtherplaneError } from "../../foundation/errors.js";

const COALESCE_MS = 20;
/** At most this many long-polls wait at once (one per agent; far above a real cluster). */
export const WAITERS_MAX = 20_000;
export const LONG_POLL_WAIT_MS_MAX = 60_000;

/** The revision of a desired state: the same content, the same revision, even across restarts. */
export function revisionOf(content: unknown): string {
  return createHash("sha256").update(JSON.stringify(content)).digest("hex").slice(0, 24);
}

export class DesiredWatch {
  private epochValue = 0;
  private readonly waiters = new Set<() => void>();
  private pending: NodeJS.Timeout | undefined;

  get epoch(): number {
    return this.epochValue;
  }

  /** Something a desired state is made of changed: every waiter looks again, soon. */
  changed(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.epochValue++;
      const woken = [...this.waiters];
      this.waiters.clear();
      for (const wake of woken) wake();
    }, COALESCE_MS);
  }

  /** Resolves at the first change after `epoch` (at once if there was one), or after `waitMs`. */
  next(epoch: number, waitMs: number): Promise<void> {
    if (epoch !== this.epochValue || waitMs <= 0) return Promise.resolve();
    if (this.waiters.size >= WAITERS_MAX)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `${WAITERS_MAX} agents are waiting for changes already; retry without waiting`,
      );
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.waiters.add(done);
    });
  }

  /** Ends every wait now (the controller stops). */
  close(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    for (const wake of [...this.waiters]) wake();
  }
}
