/**
 * Agents' reports write their host's inventory and lastSeenMs; the reports that arrive in one
 * turn of the event loop are written in ONE store transaction. Each write is an fsync on the event
 * loop (better-sqlite3 is synchronous): 1,000 agents' first reports written one by one held the
 * controller for tens of seconds on a loaded machine, long enough for every lease to expire
 * (bench/agents.ts). A host reported twice in one batch: its last report wins.
 */
import { FlushPacer } from "./flush-pacer.js";
import type { HostRecord } from "../model.js";
import type { Store } from "../store/store.js";

/** Hosts written in one transaction at most (the rest go in the next). */
export const HOST_OBSERVATIONS_BATCH_MAX = 1000;

interface Pending {
  id: string;
  inventory: HostRecord["inventory"];
  lastSeenMs: number;
  resolve(): void;
  reject(error: unknown): void;
}

export class HostObservationBatch {
  /** When the next batch goes out (flush-pacer.ts: fewer commits when the disk is slow). */
  private readonly pacer = new FlushPacer(() => this.flush());
  private readonly pending: Pending[] = [];

  constructor(private readonly store: Store) {}

  /** Resolves once this host's report is stored (with the others of this turn). */
  write(id: string, inventory: HostRecord["inventory"], lastSeenMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ id, inventory, lastSeenMs, resolve, reject });
      this.pacer.request();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, HOST_OBSERVATIONS_BATCH_MAX);
    if (this.pending.length > 0) this.pacer.request();
    const last = new Map(batch.map((p) => [p.id, p]));
    try {
      await this.store.observeHosts(
        [...last.values()].map(({ id, inventory, lastSeenMs }) => ({ id, inventory, lastSeenMs })),
      );
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    for (const p of batch) p.resolve();
  }
}
