/**
 * The audit log's writer: every entry bounded (path, subject, detail), refused unauthenticated
 * calls counted rather than each written (an unauthenticated caller must not be able to make the
 * controller fsync a row per request), and retention by age and row count.
 */
import type { AuditRecord } from "../model.js";
import type { Store } from "../store/store.js";

export const AUDIT_PATH_CHARS_MAX = 256;
export const AUDIT_TEXT_CHARS_MAX = 500;

export interface AuditLimits {
  /** At most one summary row of refused unauthenticated calls per this interval. */
  refusedSummaryIntervalMs: number;
  /** Entries older than this are pruned. */
  retentionMs: number;
  /** At most this many entries are kept (the oldest go first). */
  retentionRowsMax: number;
}

export const AUDIT_LIMITS_DEFAULT: AuditLimits = {
  refusedSummaryIntervalMs: 60_000,
  retentionMs: 90 * 24 * 3600 * 1000,
  retentionRowsMax: 100_000,
};

/** Bounds for the limits themselves (flags are checked against them). */
export const AUDIT_RETENTION_DAYS_MAX = 36_500;
export const AUDIT_RETENTION_ROWS_MAX = 100_000_000;

/**
 * `text` with control characters shown as `?` (a row is one line in every reader) and cut to
 * `charsMax`, saying how much was cut.
 */
export function boundText(text: string, charsMax: number): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is replaced
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "?");
  if (clean.length <= charsMax) return clean;
  return `${clean.slice(0, charsMax)}... (+${clean.length - charsMax} chars)`;
}

export type AuditEntry = Omit<AuditRecord, "id">;

export class AuditLog {
  private refusedPending = 0;
  private refusedTotal = 0;
  private refusedSinceMs = 0;
  private lastRefused: { method: string; path: string } | null = null;
  private lastSummaryMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly limits: AuditLimits = AUDIT_LIMITS_DEFAULT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Appends one entry, its free-text fields bounded. */
  async record(entry: AuditEntry): Promise<void> {
    await this.store.appendAudit(bounded(entry));
  }

  /**
   * Counts a call refused for want of a valid token. The first of an interval is written at once
   * (one row saying how many came since the last row); the rest wait for the next interval, or
   * flush().
   */
  async refusedUnauthenticated(method: string, path: string): Promise<void> {
    const nowMs = this.now();
    if (this.refusedPending === 0) this.refusedSinceMs = nowMs;
    this.refusedPending++;
    this.refusedTotal++;
    this.lastRefused = { method, path };
    if (nowMs - this.lastSummaryMs >= this.limits.refusedSummaryIntervalMs) await this.flush();
  }

  /** Writes the summary of the refused calls not written yet (at stop, and by interval). */
  async flush(): Promise<void> {
    if (this.refusedPending === 0 || !this.lastRefused) return;
    const count = this.refusedPending;
    const since = this.refusedSinceMs;
    const last = this.lastRefused;
    this.refusedPending = 0;
    this.lastSummaryMs = this.now();
    await this.record({
      timeMs: this.lastSummaryMs,
      actor: "anonymous",
      role: "none",
      method: last.method,
      path: last.path,
      status: 401,
      result: "error",
      subject: null,
      detail:
        `${count} call${count === 1 ? "" : "s"} without a valid token refused since ` +
        `${new Date(since).toISOString()} (the last one shown)`,
    });
  }

  /** Refused unauthenticated calls since the controller started, and those not yet in a row. */
  counters(): { refusedUnauthenticated: number; refusedUnauthenticatedPending: number } {
    return {
      refusedUnauthenticated: this.refusedTotal,
      refusedUnauthenticatedPending: this.refusedPending,
    };
  }

  /** Applies the retention limits; returns how many entries went. */
  prune(): Promise<number> {
    return this.store.pruneAudit({
      olderThanMs: this.now() - this.limits.retentionMs,
      rowsMax: this.limits.retentionRowsMax,
    });
  }
}

function bounded(entry: AuditEntry): AuditEntry {
  return {
    ...entry,
    actor: boundText(entry.actor, AUDIT_PATH_CHARS_MAX),
    method: boundText(entry.method, 16),
    path: boundText(entry.path, AUDIT_PATH_CHARS_MAX),
    subject: entry.subject === null ? null : boundText(entry.subject, AUDIT_TEXT_CHARS_MAX),
    detail: entry.detail === null ? null : boundText(entry.detail, AUDIT_TEXT_CHARS_MAX),
  };
}
