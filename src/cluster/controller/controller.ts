/**
 * The controller: the cluster's desired state (in a Store) and the services the API calls. It
 * holds no I/O of its own beyond the store; the API edge (src/api) and the agents do the rest.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";
import { createLogger } from "../../foundation/log.js";
import type { HostRecord, PoolRecord } from "../model.js";
import type { Store } from "../store/store.js";
import { randomBytes } from "node:crypto";
import { allocateMac } from "../../domain/mac/mac-allocator.js";
import { AgentService } from "./agent-service.js";
import { AUDIT_LIMITS_DEFAULT, AuditLog, type AuditLimits } from "./audit-log.js";
import { AuthService } from "./auth-service.js";
import { ClusterSettings } from "./cluster-settings.js";
import { CONSOLE_LIMITS_DEFAULT, ConsoleBroker, type ConsoleLimits } from "./console-broker.js";
import { DomainLifecycle } from "./domain-lifecycle.js";
import { DomainObserver } from "./domain-observer.js";
import { DomainService } from "./domain-service.js";
import { DomainSettings } from "./domain-settings.js";
import { OfflineMover } from "./domain-mover.js";
import { EventLog } from "./event-log.js";
import { MaintenanceService } from "./maintenance-service.js";
import { LiveMover } from "./live-mover.js";
import { MigrationBroker } from "./migration-broker.js";
import { MigrationRecovery, type RecoveryTimeouts } from "./migration-recovery.js";
import { MigrationService } from "./migration-service.js";
import { NetworkService } from "./network-service.js";
import { PlacementService } from "./placement-service.js";
import { TaskService } from "./task-service.js";
import { VolumeGrants } from "./volume-grants.js";
import { VolumeService } from "./volume-service.js";
import { notifyingStore } from "../store/notifying-store.js";
import { HostLiveness, LEASE_DEFAULT, type LeaseSettings } from "./host-liveness.js";
import { HaManager } from "./failover.js";

/** The controller's configurable bounds (flags of `controller` and `up`). */
export interface ControllerLimits {
  audit: AuditLimits;
  consoles: ConsoleLimits;
  /** Host leases: renewal, suspect and dead timeouts (host-liveness.ts). */
  lease: LeaseSettings;
  /** Ending the migrations a previous controller left running (migration-recovery.ts). */
  migrationRecovery: RecoveryTimeouts;
}

export class Controller {
  readonly auth: AuthService;
  readonly audit: AuditLog;
  readonly tasks: TaskService;
  readonly agents: AgentService;
  readonly volumes: VolumeService;
  readonly domains: DomainService;
  readonly lifecycle: DomainLifecycle;
  readonly networks: NetworkService;
  readonly consoles: ConsoleBroker;
  readonly settings: ClusterSettings;
  readonly placement: PlacementService;
  readonly events: EventLog;
  readonly domainSettings: DomainSettings;
  readonly maintenance: MaintenanceService;
  readonly migrationStreams: MigrationBroker;
  readonly migrations: MigrationService;
  /** Ends the migrations a previous controller left running (start-controller.ts runs it). */
  readonly migrationRecovery: MigrationRecovery;
  readonly ha: HaManager;
  /** The store, saying when a write may change a desired state (agents' long-polls wake). */
  readonly store: Store;

  constructor(
    store: Store,
    private readonly now: () => number = Date.now,
    limits: Partial<ControllerLimits> = {},
  ) {
    // Every write must come through this store: a write past it wakes no agent, and agents'
    // cached desired states (agent-service.ts) would not see it.
    this.store = store = notifyingStore(
      store,
      (hosts) => this.agents.watch.changed(hosts),
      () => this.auth.tokensWritten(),
    );
    this.auth = new AuthService(store, now);
    this.audit = new AuditLog(store, limits.audit ?? AUDIT_LIMITS_DEFAULT, now);
    this.tasks = new TaskService(store, now);
    this.events = new EventLog(store, now);
    this.settings = new ClusterSettings(store);
    this.placement = new PlacementService(store, this.settings, now);
    this.domains = new DomainService(store, (used) => allocateMac(used, randomBytes), now);
    this.domainSettings = new DomainSettings(store, this.domains, this.events);
    const grants = new VolumeGrants(store);
    this.lifecycle = new DomainLifecycle(
      store,
      this.domains,
      this.tasks,
      grants,
      this.placement,
      this.events,
      now,
    );
    this.networks = new NetworkService(store, now);
    this.consoles = new ConsoleBroker(limits.consoles ?? CONSOLE_LIMITS_DEFAULT);
    this.consoles.onOpen = (hostId) => this.agents.watch.changed([hostId]);
    const observer = new DomainObserver(
      store,
      this.tasks,
      grants,
      createLogger("cluster:domains"),
      this.events,
    );
    this.migrationStreams = new MigrationBroker(now);
    this.migrationStreams.onChange = (hostIds) => this.agents.watch.changed(hostIds);
    this.migrations = new MigrationService(
      store,
      this.domains,
      this.lifecycle,
      this.tasks,
      grants,
      this.migrationStreams,
      this.placement,
      createLogger("cluster:migration"),
    );
    this.maintenance = new MaintenanceService(
      store,
      this.tasks,
      this.events,
      this.placement,
      this.lifecycle,
      {
        offline: new OfflineMover(store, this.lifecycle),
        live: new LiveMover(store, this.migrations),
      },
      createLogger("cluster:maintenance"),
      now,
    );
    this.agents = new AgentService(
      store,
      this.auth,
      this.tasks,
      createLogger("cluster:agents"),
      now,
      observer,
      this.consoles,
      this.events,
      this.migrationStreams,
      new HostLiveness(limits.lease ?? LEASE_DEFAULT, now),
    );
    this.migrationRecovery = new MigrationRecovery(
      store,
      this.tasks,
      grants,
      this.migrationStreams,
      this.agents,
      createLogger("cluster:migration"),
      limits.migrationRecovery,
      now,
    );
    this.ha = new HaManager(
      store,
      this.agents,
      this.tasks,
      grants,
      this.placement,
      createLogger("cluster:ha"),
      now,
    );
    this.ha.onNote = (note) =>
      void this.events
        .record("ha.step", note.domainId ?? note.hostId, note.message, {
          host: note.hostId,
          domain: note.domainId,
        })
        .catch(() => undefined); // the log has the step; an event is a courtesy
    observer.hostState = (id) => this.ha.state(id);
    this.placement.hostState = (id) => this.ha.state(id);
    this.agents.evictionsFor = (id) => this.ha.evictionsFor(id);
    this.volumes = new VolumeService(store, this.tasks, () => this.agents.foreignAddresses(), now);
  }

  async host(ref: string): Promise<HostRecord> {
    const host = (await this.store.getHost(ref)) ?? (await this.store.findHostByName(ref));
    if (!host)
      throw new EtherplaneError("NOT_FOUND", `no host "${ref}"; see etherplane host list`, {
        params: { field: "host" },
      });
    return host;
  }

  async createPool(spec: {
    host: string;
    name: string;
    kind: PoolRecord["kind"];
    path?: string;
    devices?: string[];
  }): Promise<PoolRecord> {
    const host = await this.host(spec.host);
    if (!host.roles.includes("storage"))
      throw new EtherplaneError("INVALID_ARGUMENT", `host: ${host.name} has no storage role`, {
        params: { field: "host" },
      });
    if (spec.kind === "directory" && !spec.path?.startsWith("/")) {
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        "path: a directory pool needs an absolute path, e.g. /srv/etherplane/pool1",
        { params: { field: "path" } },
      );
    }
    if (
      spec.kind === "block" &&
      (!spec.devices ||
        spec.devices.length === 0 ||
        spec.devices.some((d) => !d.startsWith("/dev/")))
    ) {
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        "devices: a block pool needs device paths under /dev, e.g. /dev/vg0/lv1",
        { params: { field: "devices" } },
      );
    }
    const pool: PoolRecord = {
      id: newId("pool"),
      name: spec.name,
      hostId: host.id,
      kind: spec.kind,
      path: spec.path ?? "",
      devices: spec.devices ?? [],
      capacityBytes: null,
      freeBytes: null,
      createdMs: this.now(),
    };
    await this.store.createPool(pool);
    return pool;
  }

  /** The MACs of a host's interfaces, as its agent last reported them (for allow/deny by host). */
  async hostMacs(ref: string): Promise<string[]> {
    const host = await this.host(ref);
    const macs =
      host.inventory?.interfaces.map((i) => i.mac).filter((m) => m !== "00:00:00:00:00:00") ?? [];
    if (macs.length === 0)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `host ${host.name} has not reported its interfaces yet; give MACs instead`,
      );
    return macs;
  }
}
