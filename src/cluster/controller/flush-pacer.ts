/**
 * Paces batched store writes (event-log.ts, host-observation-batch.ts). Each batch is one SQLite
 * transaction, and each commit an fsync ON the event loop (better-sqlite3 is synchronous, the store
 * runs with synchronous=FULL). On a quiet disk a commit takes a millisecond and a batch goes out in
 * the next turn; on a busy one it took tens of milliseconds, and a burst of reports (1,000 agents
 * starting) made one commit per turn back to back: the loop was blocked most of the time, lease
 * renewals waited unread and hosts were declared dead (docs/benchmarks.md). So after a batch that
 * held the loop for D ms, the next waits until BUSY_SHARE_MAX of the time at most went to commits
 * (3 D with a quarter): the same writes, in fewer and larger transactions when the disk is slow.
 */

/** At most this share of the event loop's time goes to these commits when they come in a row. */
export const BUSY_SHARE_MAX = 0.25;
/** A bound on the wait after a very slow commit (a stalled disk must not hold writes for long). */
export const PACE_WAIT_MS_MAX = 500;

export class FlushPacer {
  private lastEndMs = Number.NEGATIVE_INFINITY;
  private lastTookMs = 0;
  private scheduled = false;

  /** `flush` writes one batch; the pacer measures how long it held the caller. */
  constructor(private readonly flush: () => Promise<void>) {}

  /** A batch waits: it goes out in the next turn, or once the last commit's pause is over. */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const pauseMs = Math.min(
      PACE_WAIT_MS_MAX,
      (this.lastTookMs * (1 - BUSY_SHARE_MAX)) / BUSY_SHARE_MAX,
    );
    const dueMs = this.lastEndMs + pauseMs;
    const run = () => {
      // Timers count from the turn's start (libuv caches its clock), so one may come early.
      const leftMs = dueMs - performance.now();
      if (leftMs > 0) {
        setTimeout(run, Math.ceil(leftMs));
        return;
      }
      this.scheduled = false;
      const startMs = performance.now();
      const done = this.flush();
      // The commit itself is synchronous: what it held the loop for is measured here.
      this.lastTookMs = performance.now() - startMs;
      this.lastEndMs = performance.now();
      void done;
    };
    const waitMs = dueMs - performance.now();
    if (waitMs <= 0) setImmediate(run);
    else setTimeout(run, waitMs);
  }
}
