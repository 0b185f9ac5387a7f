/**
 * The controller's side of the agents: joining, the desired state handed to each host, and the
 * status each reports, which moves volumes and their tasks along (creating -> ready, deleting ->
 * gone, failures -> failed).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";
import type { Logger } from "../../foundation/log.js";
import type {
  AgentStatus,
  DesiredState,
  DesiredVolume,
  Eviction,
  JoinRequest,
  ObservedVolume,
} from "../agent-protocol.js";
import type { HostRecord, HostState, VolumeRecord } from "../model.js";

/** A report writes the host's lastSeenMs at most this often when nothing else changed. */
const LAST_SEEN_WRITE_MS = 60_000;
import type { Store, VolumeObservation } from "../store/store.js";
import type { AoeAddress } from "./address-allocator.js";
import type { AuthService } from "./auth-service.js";
import { checkJoin } from "./join-tokens.js";
import type { TaskService } from "./task-service.js";
import type { ConsoleBroker } from "./console-broker.js";
import type { MigrationBroker } from "./migration-broker.js";
import type { DomainObserver } from "./domain-observer.js";
import type { EventLog } from "./event-log.js";
import { volumeMask } from "./volume-access.js";
import { HostObservationBatch } from "./host-observation-batch.js";
import { DesiredWatch, LONG_POLL_WAIT_MS_MAX, revisionOf } from "./desired-watch.js";
import { HostLiveness, LEASE_DEFAULT, selfFenceMs, type LeaseGrant } from "./host-liveness.js";

/**
 * A volume as its storage host serves it: `allow` is the whole mask (volume-access.ts), less the
 * MACs of fenced hosts (failover.ts).
 */
function desiredVolume(volume: VolumeRecord, fenced: ReadonlySet<string>): DesiredVolume {
  const { id, name, kind, poolId, sizeBytes, sourceId, shelf, slot, exported, state } = volume;
  const mask = volumeMask(volume);
  const macs = mask.everyone ? [] : mask.macs.filter((mac) => !fenced.has(mac.toLowerCase()));
  return {
    ...{ id, name, kind, poolId, sizeBytes, sourceId, shelf, slot, exported, state },
    allow: macs,
    allowEveryone: mask.everyone,
    generation: volume.generation,
  };
}

/** Hosts whose desired state is cached at most (one entry each; far above a real cluster). */
const DESIRED_CACHE_HOSTS_MAX = 20_000;

interface CachedDesired {
  epoch: number;
  trusted: boolean;
  fenced: ReadonlySet<string>;
  memoryJson: string;
  desired: DesiredState;
}

export type ReportListener = (hostId: string, status: AgentStatus, atMs: number) => void;

export class AgentService {
  /** Foreign AoE targets each host last saw, by host id. */
  private readonly foreign = new Map<string, AoeAddress[]>();
  /** Told of each report once it is recorded (the web UI's charts); a handful at most. */
  private readonly reportListeners = new Set<ReportListener>();
  /** Reports' host writes, one transaction per turn of the event loop. */
  private readonly observations: HostObservationBatch;
  /** Long-polls of desired state wait here for changes. */
  readonly watch = new DesiredWatch();
  /** Host leases (in memory). */
  readonly liveness: HostLiveness;
  /** SAN MACs of dead hosts: no volume is served to them (set by failover.ts). */
  fencedMacs: ReadonlySet<string> = new Set();
  /** What a host's state is, beyond its lease (failover.ts sets it: dead, fenced). */
  hostState: (hostId: string) => HostState = (hostId) => this.liveness.state(hostId);
  /** Guests a host may still run whose domains now run elsewhere (failover.ts sets it). */
  evictionsFor: (hostId: string) => Eviction[] = () => [];

  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly tasks: TaskService,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly domains?: DomainObserver,
    private readonly consoles?: ConsoleBroker,
    private readonly events?: EventLog,
    private readonly migrations?: MigrationBroker,
    liveness?: HostLiveness,
  ) {
    this.liveness = liveness ?? new HostLiveness(LEASE_DEFAULT, now);
    this.observations = new HostObservationBatch(store);
  }

  /**
   * A lease renewal: in memory only. A store write here would be an fsync per renewal, on the
   * event loop (SQLite is synchronous): at a few hundred hosts that alone delays renewals by
   * seconds (bench/agents.ts). The reply tells the agent its state (dead or fenced: keep HA
   * guests down) and the timeouts.
   */
  renew(hostId: string): Promise<LeaseGrant> {
    const state = this.hostState(hostId);
    this.liveness.renew(hostId);
    const { renewMs, deadMs } = this.liveness.settings;
    return Promise.resolve({
      renewMs,
      deadMs,
      selfFenceMs: selfFenceMs(this.liveness.settings),
      state,
    });
  }

  /** The host's last sign of life: its last lease renewal or status report. */
  lastSeen(host: HostRecord): number | null {
    const renewed = this.liveness.lastRenewal(host.id);
    if (renewed === undefined) return host.lastSeenMs;
    return Math.max(renewed, host.lastSeenMs ?? 0);
  }

  /**
   * The host's desired state once its revision differs from `after`, waiting at most `waitMs`
   * for a change; null when nothing changed in that time.
   */
  async desiredAfter(
    hostId: string,
    after: string | undefined,
    waitMs: number,
  ): Promise<DesiredState | null> {
    if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > LONG_POLL_WAIT_MS_MAX)
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `waitMs: ${waitMs} must be a whole number of milliseconds from 0 to ${LONG_POLL_WAIT_MS_MAX}`,
        { params: { field: "waitMs" } },
      );
    const deadlineMs = Date.now() + waitMs;
    for (;;) {
      const epoch = this.watch.epochOf(hostId);
      const state = await this.desired(hostId);
      if (after === undefined || state.revision !== after) return state;
      const leftMs = deadlineMs - Date.now();
      // Closed: the controller stops, and a long-poll must not hold its HTTP server open.
      if (leftMs <= 0 || this.watch.isClosed) return null;
      await this.watch.next(hostId, epoch, leftMs);
    }
  }

  foreignAddresses(): AoeAddress[] {
    return [...this.foreign.values()].flat();
  }

  /** The foreign targets each host's discovery last saw (shelf.slot answered by others). */
  foreignTargets(): Array<{ hostId: string; shelf: number; slot: number }> {
    return [...this.foreign.entries()].flatMap(([hostId, addresses]) =>
      addresses.map((a) => ({ hostId, ...a })),
    );
  }

  /** Registers a host, or finds it again by name and updates its roles and interfaces. */
  async registerHost(request: JoinRequest): Promise<HostRecord> {
    const found = await this.store.findHostByName(request.name);
    if (found) {
      // Its agent starts again: a lease from now unless it renews already (host-liveness.ts).
      this.liveness.begin(found.id);
      return this.store.updateHost(found.id, {
        roles: request.roles,
        exportInterfaces: request.exportInterfaces,
      });
    }
    const host: HostRecord = {
      id: newId("host"),
      name: request.name,
      roles: request.roles,
      exportInterfaces: request.exportInterfaces,
      inventory: null,
      lastSeenMs: null,
      maintenance: null,
      createdMs: this.now(),
    };
    await this.store.createHost(host);
    // Its first lease counts from its registration, not from the controller's start.
    this.liveness.begin(host.id);
    this.log.info(`host ${host.name} registered`, { hostId: host.id, roles: host.roles.join(",") });
    await this.events?.record("host.joined", host.name, `host ${host.name} joined`, {
      roles: host.roles.join(","),
    });
    return host;
  }

  /**
   * A remote agent joins with the join token `joinTokenId` (see join-tokens.ts for the rules): its
   * host is registered (or, with a replacing token, its old agent tokens revoked) and it gets its
   * own agent token. Joins run one at a time, so a token is used once even by concurrent calls.
   */
  join(joinTokenId: string, request: JoinRequest): Promise<{ host: HostRecord; secret: string }> {
    const run = this.joins.then(() => this.joinNow(joinTokenId, request));
    this.joins = run.catch(() => undefined);
    return run;
  }

  private joins: Promise<unknown> = Promise.resolve();

  private async joinNow(
    joinTokenId: string,
    request: JoinRequest,
  ): Promise<{ host: HostRecord; secret: string }> {
    const token = (await this.store.listTokens()).find((t) => t.id === joinTokenId);
    if (!token) throw new EtherplaneError("UNAUTHENTICATED", "unknown join token");
    const existing = await this.store.findHostByName(request.name);
    const replacing = checkJoin(token, request.name, existing, this.now());
    // Spent before anything else: a crash from here on leaves no reusable token.
    await this.store.updateToken(token.id, { revoked: true });
    let host: HostRecord;
    if (replacing !== null) {
      const revoked = await this.auth.revokeAgentTokens(replacing);
      this.liveness.begin(replacing);
      host = await this.store.updateHost(replacing, {
        roles: request.roles,
        exportInterfaces: request.exportInterfaces,
      });
      this.log.warn(`host ${host.name} replaced by a new agent`, {
        hostId: host.id,
        revokedAgentTokens: revoked,
      });
    } else {
      host = await this.registerHost(request);
    }
    const { secret } = await this.auth.createToken({
      name: `agent:${host.name}`,
      role: "agent",
      hostId: host.id,
    });
    return { host, secret };
  }

  /**
   * The host's desired state, from the cache while nothing it is made of changed: the same epoch
   * of the watch (every store write that concerns the host bumps it, notifying-store.ts), the same
   * fenced MACs and trust, and the same in-memory parts (evictions, consoles, migrations, compared
   * as text). A wake-up that changed nothing for this host then costs no store read.
   */
  async desired(hostId: string): Promise<DesiredState> {
    // Read before the store: a change during the reads bumps the epoch, so this entry is stale.
    const epoch = this.watch.epochOf(hostId);
    const state = this.hostState(hostId);
    const trusted = state !== "dead" && state !== "fenced";
    const fenced = this.fencedMacs;
    const memory = {
      evict: this.evictionsFor(hostId),
      consoles: this.consoles?.pending(hostId) ?? [],
      migrations: this.migrations?.desiredFor(hostId) ?? [],
    };
    const memoryJson = JSON.stringify(memory);
    const cached = this.desiredCache.get(hostId);
    if (
      cached?.epoch === epoch &&
      cached.trusted === trusted &&
      cached.fenced === fenced &&
      cached.memoryJson === memoryJson
    )
      return cached.desired;
    const content = await this.desiredContent(hostId, trusted, fenced, memory);
    const desired = { ...content, revision: revisionOf(content) };
    if (this.desiredCache.size >= DESIRED_CACHE_HOSTS_MAX) this.desiredCache.clear();
    this.desiredCache.set(hostId, { epoch, trusted, fenced, memoryJson, desired });
    return desired;
  }

  private readonly desiredCache = new Map<string, CachedDesired>();

  private async desiredContent(
    hostId: string,
    trusted: boolean,
    fenced: ReadonlySet<string>,
    memory: Pick<DesiredState, "evict" | "consoles" | "migrations">,
  ): Promise<Omit<DesiredState, "revision">> {
    const host = await this.store.getHost(hostId);
    if (!host) throw new EtherplaneError("NOT_FOUND", `host ${hostId} is not known; join again`);
    const pools = await this.store.listPools({ hostId });
    const volumes = await this.store.listVolumes({ hostId });
    const networks = await this.store.listNetworks({ hostId });
    // A dead or fenced host is not trusted with its domains: it runs none until taken back.
    const domains = trusted ? ((await this.domains?.desiredFor(hostId)) ?? []) : [];
    return {
      hostId,
      roles: host.roles,
      exportInterfaces: host.exportInterfaces,
      pools: pools.map(({ id, name, kind, path, devices }) => ({ id, name, kind, path, devices })),
      volumes: volumes.map((volume) => desiredVolume(volume, fenced)),
      networks: networks.map(({ id, name, bridge, uplink, vlanId }) => ({
        id,
        name,
        bridge,
        uplink,
        vlanId,
      })),
      domains,
      evict: memory.evict.filter((e) => !domains.some((d) => d.id === e.id)),
      consoles: memory.consoles,
      migrations: memory.migrations,
    };
  }

  /** Calls `listener` after each recorded report; returns its removal. */
  onReport(listener: ReportListener): () => void {
    this.reportListeners.add(listener);
    return () => this.reportListeners.delete(listener);
  }

  async report(hostId: string, status: AgentStatus): Promise<void> {
    // Each store write is an fsync on the event loop: only what changed is written (the lease
    // says the host is alive; lastSeenMs is refreshed at most every LAST_SEEN_WRITE_MS).
    const host = await this.store.getHost(hostId);
    const nowMs = this.now();
    // A host heard from for the first time (coming back after a lease loss is the HA manager's
    // event: its lease renewals, not its reports, say it is alive).
    if (host && host.lastSeenMs === null)
      await this.events?.record("host.reporting", host.name, `host ${host.name}'s agent reports`, {
        hypervisor: status.inventory.hypervisor?.kind ?? null,
      });
    if (
      !host ||
      JSON.stringify(host.inventory) !== JSON.stringify(status.inventory) ||
      nowMs - (host.lastSeenMs ?? 0) >= LAST_SEEN_WRITE_MS
    )
      await this.observations.write(hostId, status.inventory, nowMs);
    // Our own volumes on other hosts answer this host's discovery too: they are not foreign.
    const ours = new Set((await this.store.usedAddresses()).map((a) => a.shelf * 256 + a.slot));
    this.foreign.set(
      hostId,
      status.foreignTargets
        .filter((t) => !ours.has(t.shelf * 256 + t.slot))
        .map(({ shelf, slot }) => ({ shelf, slot })),
    );
    // Only this host's records: an agent's report never touches another host's.
    const myPools = new Map((await this.store.listPools({ hostId })).map((p) => [p.id, p]));
    for (const pool of status.pools) {
      const mine = myPools.get(pool.id);
      if (!mine) continue;
      if (mine.capacityBytes === pool.capacityBytes && mine.freeBytes === pool.freeBytes) continue;
      await this.store
        .updatePool(pool.id, { capacityBytes: pool.capacityBytes, freeBytes: pool.freeBytes })
        .catch(() => undefined);
    }
    if (status.networks) {
      const known = new Map((await this.store.listNetworks({ hostId })).map((n) => [n.id, n]));
      for (const network of status.networks) {
        const mine = known.get(network.id);
        if (!mine || mine.error === network.error) continue;
        await this.store.updateNetwork(network.id, { error: network.error }).catch(() => undefined);
      }
    }
    if (status.migrations) this.migrations?.observe(hostId, status.migrations);
    if (status.domains) await this.domains?.settle(hostId, status.domains);
    const observed = new Map(status.volumes.map((v) => [v.id, v]));
    for (const volume of await this.store.listVolumes({ hostId })) {
      await this.settle(volume, observed.get(volume.id));
    }
    const atMs = this.now();
    for (const listener of this.reportListeners) listener(hostId, status, atMs);
  }

  /** Moves one volume (and its running task) along what the agent observed. */
  private async settle(volume: VolumeRecord, seen: ObservedVolume | undefined): Promise<void> {
    const task = await this.tasks.runningFor(volume.id);
    if (volume.state === "deleting") {
      // Only a finished pass that saw the volume absent proves its bytes are gone. A progress
      // report sent in the middle of a pass names only some volumes (a restarted agent's first
      // one names only the copy), and a copy's own entry says "not there yet", not "removed".
      if (!seen || seen.present || seen.progress) return;
      // The task first: should the controller die in between, the next report deletes the
      // record, while a task left running would never finish.
      if (task) await this.tasks.succeed(task.id, `deleted ${volume.name}`);
      await this.store.deleteVolume(volume.id);
      return;
    }
    if (!seen) return;
    if (seen.error) {
      if (volume.state !== "failed" || volume.error !== seen.error) {
        await this.store.observeVolume(volume.id, {
          state: volume.state === "creating" ? "failed" : volume.state,
          error: seen.error,
        });
      }
      if (task) await this.tasks.fail(task.id, "IO_ERROR", `${volume.name}: ${seen.error}`);
      return;
    }
    const applied = seen.present && seen.appliedGeneration >= volume.generation;
    if (!applied) {
      if (task && seen.progress && seen.progress.totalBytes > 0) {
        const { doneBytes, totalBytes } = seen.progress;
        await this.tasks.progress(
          task.id,
          doneBytes / totalBytes,
          `copying ${volume.name}: ${Math.round((100 * doneBytes) / totalBytes)}%`,
        );
      }
      return;
    }
    const patch: VolumeObservation = {};
    if (seen.allocatedBytes !== volume.allocatedBytes) patch.allocatedBytes = seen.allocatedBytes;
    // What the target serves now (its mask): a start waits for this (volume-access.ts).
    if (volume.appliedGeneration < volume.generation) patch.appliedGeneration = volume.generation;
    if (volume.state === "creating" || volume.state === "resizing" || volume.state === "failed") {
      patch.state = "ready";
      patch.error = null;
    }
    if (Object.keys(patch).length > 0) {
      // Observations leave the generation alone: the desired state did not change.
      await this.store.observeVolume(volume.id, patch);
    }
    if (task)
      await this.tasks.succeed(
        task.id,
        `${volume.name} is ready as e${volume.shelf}.${volume.slot}`,
        { volumeId: volume.id },
      );
  }
}
