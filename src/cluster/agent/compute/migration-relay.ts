/**
 * The agent's side of live migrations (the controller's migration-service.ts says what to do in
 * the desired state, DesiredMigration). Receive: the disks come up as for a start, the driver
 * starts the guest waiting, the agent connects back to the controller and feeds the guest's state
 * in. Send: the agent connects back and the driver sends the running guest; once the controller
 * says the destination runs it (finish), the stopped copy here is destroyed and its disks closed.
 * Every step is reported (ObservedMigration). While a domain's guest is being sent or has left
 * by migration, the compute reconciler leaves it alone (`holds`).
 */
import type { Duplex } from "node:stream";
import { EtherplaneError, errorMessage } from "../../../foundation/errors.js";
import type { Logger } from "../../../foundation/log.js";
import {
  MIGRATION_LIMITS_DEFAULT,
  type GuestMigrator,
  type IncomingGuest,
  type MigrationLimits,
} from "../../../hypervisor/migration.js";
import type {
  DesiredDomain,
  DesiredMigration,
  MigrationSideState,
  ObservedMigration,
} from "../../agent-protocol.js";
import type { ComputeReconciler } from "./compute-reconciler.js";

export const MIGRATION_SIDES_MAX = 16;

interface Side {
  sessionId: string;
  role: "send" | "receive";
  domain: DesiredDomain;
  /** The last phase acted on. */
  phase: DesiredMigration["phase"];
  state: MigrationSideState;
  observed: ObservedMigration;
  stream: Duplex | null;
  incoming: IncomingGuest | null;
  /** The step under way; the next one waits for it. */
  work: Promise<void>;
}

export class MigrationRelay {
  private readonly sides = new Map<string, Side>();
  /** Domains whose guest left this host by migration (until the desired state drops them). */
  private readonly departed = new Set<string>();
  /**
   * Domains whose guest was sent whole (QEMU stopped it here for good) but whose session the
   * controller forgot (it restarted): the copy here may already run on the destination, so it is
   * neither resumed nor restarted until the controller says which copy stays (a new session's
   * send/abort resumes it, send/finish destroys it) or drops the domain.
   */
  private readonly stranded = new Set<string>();

  constructor(
    private readonly reconciler: ComputeReconciler,
    private readonly connect: (sessionId: string) => Promise<Duplex>,
    private readonly log: Logger,
    private readonly limits: MigrationLimits = MIGRATION_LIMITS_DEFAULT,
  ) {}

  private get migrator(): GuestMigrator {
    const migration = this.reconciler.hypervisorDriver.migration;
    if (!migration)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `the ${this.reconciler.hypervisorDriver.kind} driver cannot migrate a running guest: use etherplane migrate --offline`,
      );
    return migration;
  }

  /** Whether the compute reconciler must leave the domain alone. */
  holds(domainId: string): boolean {
    if (this.departed.has(domainId) || this.stranded.has(domainId)) return true;
    for (const side of this.sides.values())
      if (side.role === "send" && side.domain.id === domainId && side.state !== "failed")
        return true;
    return false;
  }

  observed(): ObservedMigration[] {
    return [...this.sides.values()].map((side) => ({ ...side.observed, state: side.state }));
  }

  handle(migrations: readonly DesiredMigration[], domains: readonly DesiredDomain[]): void {
    const listed = new Set<string>();
    for (const m of migrations) {
      const key = `${m.sessionId}/${m.role}`;
      listed.add(key);
      let side = this.sides.get(key);
      if (!side) {
        if (this.sides.size >= MIGRATION_SIDES_MAX) continue;
        side = {
          sessionId: m.sessionId,
          role: m.role,
          domain: m.domain,
          phase: m.phase,
          state: m.role === "send" ? "sending" : "preparing",
          observed: {
            sessionId: m.sessionId,
            role: m.role,
            state: "preparing",
            progress: null,
            report: null,
            error: null,
          },
          stream: null,
          incoming: null,
          work: Promise.resolve(),
        };
        this.sides.set(key, side);
        this.step(side, m.phase, true);
        continue;
      }
      if (side.phase !== m.phase) {
        side.phase = m.phase;
        this.step(side, m.phase, false);
      }
    }
    // Sessions the controller closed: forgotten once their step is over.
    for (const [key, side] of this.sides)
      if (!listed.has(key) && side.state !== "sending" && side.state !== "preparing") {
        if (side.role === "send" && side.state === "sent") this.stranded.add(side.domain.id);
        this.sides.delete(key);
      }
    const desiredIds = new Set(domains.map((d) => d.id));
    for (const id of this.departed) if (!desiredIds.has(id)) this.departed.delete(id);
    for (const id of this.stranded) if (!desiredIds.has(id)) this.stranded.delete(id);
  }

  private step(side: Side, phase: DesiredMigration["phase"], first: boolean): void {
    // An abort must not wait for a transfer that may never end: cut its stream first.
    if (phase === "abort") side.stream?.destroy();
    const act = (): Promise<void> => {
      if (side.role === "receive")
        return phase === "run"
          ? first
            ? this.receive(side)
            : Promise.resolve()
          : this.discard(side);
      if (phase === "run") return first ? this.send(side) : Promise.resolve();
      return phase === "finish" ? this.finish(side) : this.resume(side);
    };
    side.work = side.work.then(act).catch((error: unknown) => {
      side.state = "failed";
      side.observed.error = errorMessage(error).slice(0, 1024);
      this.log.warn(`migration of ${side.domain.name} (${side.role}): ${side.observed.error}`);
    });
  }

  private async receive(side: Side): Promise<void> {
    const { domain } = side;
    try {
      const spec = await this.reconciler.guestSpec(domain);
      side.incoming = await this.migrator.prepareIncoming(spec);
      side.stream = await this.connect(side.sessionId);
    } catch (error) {
      await side.incoming?.discard().catch(() => undefined);
      this.reconciler.detachDisks(domain.name);
      throw error;
    }
    side.state = "ready";
    this.log.info(`migration of ${domain.name}: waiting for its state`);
    const guest = await side.incoming.receive(side.stream, this.limits);
    side.state = "running";
    this.log.info(`migration of ${domain.name}: it runs here (id ${guest.domid})`);
  }

  private async discard(side: Side): Promise<void> {
    side.stream?.destroy();
    const { domain } = side;
    if (side.incoming) await side.incoming.discard();
    else {
      // A restarted agent: the waiting guest is found by name and uuid.
      const guest = (await this.reconciler.hypervisorDriver.list()).find(
        (g) => g.name === domain.name && g.uuid.toLowerCase() === domain.uuid.toLowerCase(),
      );
      if (guest) await this.reconciler.hypervisorDriver.destroy(domain.name, domain.uuid);
    }
    this.reconciler.detachDisks(domain.name);
    side.state = "done";
    this.log.info(`migration of ${domain.name}: the copy here was discarded`);
  }

  private async send(side: Side): Promise<void> {
    const { domain } = side;
    side.stream = await this.connect(side.sessionId);
    side.state = "sending";
    const report = await this.migrator.send(
      domain.name,
      domain.uuid,
      side.stream,
      (progress) => {
        side.observed.progress = progress;
      },
      this.limits,
    );
    side.observed.report = report;
    side.state = "sent";
  }

  /** The destination runs the guest: the stopped copy here goes, with its disks. */
  private async finish(side: Side): Promise<void> {
    const { domain } = side;
    const driver = this.reconciler.hypervisorDriver;
    const guest = (await driver.list()).find(
      (g) => g.name === domain.name && g.uuid.toLowerCase() === domain.uuid.toLowerCase(),
    );
    if (guest?.state.running || guest?.state.blocked)
      throw new EtherplaneError(
        "CONFLICT",
        `${domain.name} still runs here while the controller says it moved; left alone for an administrator`,
      );
    this.departed.add(domain.id);
    this.stranded.delete(domain.id);
    if (guest) await driver.destroy(domain.name, domain.uuid);
    this.reconciler.detachDisks(domain.name);
    side.state = "done";
    this.log.info(`migration of ${domain.name}: moved away; the copy here is destroyed`);
  }

  /** The destination has no copy: a copy here left paused by the transfer runs again. */
  private async resume(side: Side): Promise<void> {
    const { domain } = side;
    const driver = this.reconciler.hypervisorDriver;
    const guest = (await driver.list()).find(
      (g) => g.name === domain.name && g.uuid.toLowerCase() === domain.uuid.toLowerCase(),
    );
    if (guest?.state.paused && domain.desiredState === "running")
      await driver.unpause(domain.name, domain.uuid);
    this.stranded.delete(domain.id);
    side.state = side.state === "failed" ? "failed" : "done";
  }
}
