/**
 * The live `DomainMover` of an evacuation: a live migration (migration-service.ts) to the host
 * the evacuation chose, waited for through its task.
 */
import type { Store } from "../store/store.js";
import type { DomainRecord } from "../model.js";
import {
  REAL_WAIT_CLOCK,
  waitForTask,
  type DomainMover,
  type MoveOptions,
  type MoveResult,
  type WaitClock,
} from "./domain-mover.js";
import type { MigrationResult, MigrationService } from "./migration-service.js";

/** The longest a migration may take before the evacuation gives up waiting (it goes on). */
export const MIGRATE_WAIT_MS = 15 * 60_000;

export class LiveMover implements DomainMover {
  readonly live = true;

  constructor(
    private readonly store: Store,
    private readonly migrations: MigrationService,
    private readonly clock: WaitClock = REAL_WAIT_CLOCK,
  ) {}

  async move(domain: DomainRecord, options: MoveOptions): Promise<MoveResult> {
    const { task } = await this.migrations.migrate(domain.id, {
      live: true,
      actor: options.actor,
      ...(options.host === undefined ? {} : { host: options.host }),
    });
    const done = await waitForTask(this.store, task.id, MIGRATE_WAIT_MS, this.clock);
    const result = done.result as MigrationResult | undefined;
    // The report names the hosts (migration-service.ts).
    return { domain: domain.name, from: result?.from ?? "?", to: result?.to ?? "?", live: true };
  }
}
