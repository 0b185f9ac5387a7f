/**
 * The controller's state. One interface, several implementations (SQLite now, etcd later), all
 * running the same contract test (store.contract.ts). Every method is atomic on its own; methods
 * that can clash (names, AoE addresses, generations) fail with CONFLICT and change nothing.
 */
import type {
  AuditRecord,
  DomainObserved,
  DomainRecord,
  DomainStateChange,
  EventRecord,
  NetworkRecord,
  HostRecord,
  PoolRecord,
  TaskRecord,
  TokenRecord,
  VolumeRecord,
} from "../model.js";

export type Patch<T> = Partial<Omit<T, "id" | "createdMs">>;

/** What an agent observed of a volume: recorded without touching the desired state's generation. */
export type VolumeObservation = Partial<
  Pick<VolumeRecord, "allocatedBytes" | "state" | "error" | "appliedGeneration">
>;

/** Volumes matching every condition given (all volumes when none is). */
export interface VolumeFilter {
  hostId?: string;
  poolId?: string;
  sourceId?: string;
  /** A page: only names after this one (by name, byte order)... */
  afterName?: string;
  /** ...and at most this many (1 to LIST_LIMIT_MAX; all when not given). */
  limit?: number;
}

/** Events after `afterId` and/or from `sinceMs` on, oldest first; with neither, the newest. */
export interface EventFilter {
  afterId?: number;
  sinceMs?: number;
  /** 1 to LIST_LIMIT_MAX; 100 when not given. */
  limit?: number;
}

export interface Store {
  /** The schema version after migrations. */
  schemaVersion(): Promise<number>;

  createHost(host: HostRecord): Promise<void>;
  getHost(id: string): Promise<HostRecord | undefined>;
  findHostByName(name: string): Promise<HostRecord | undefined>;
  listHosts(): Promise<HostRecord[]>;
  updateHost(id: string, patch: Patch<HostRecord>): Promise<HostRecord>;
  /**
   * Agents' reports of several hosts (inventory, lastSeenMs) in ONE transaction (one fsync); a
   * host deleted meanwhile is skipped. An observation: it wakes no desired state.
   */
  observeHosts(
    reports: ReadonlyArray<{ id: string; inventory: HostRecord["inventory"]; lastSeenMs: number }>,
  ): Promise<void>;

  /** CONFLICT when the host already has a pool of that name. */
  createPool(pool: PoolRecord): Promise<void>;
  getPool(id: string): Promise<PoolRecord | undefined>;
  listPools(filter?: { hostId?: string }): Promise<PoolRecord[]>;
  updatePool(id: string, patch: Patch<PoolRecord>): Promise<PoolRecord>;
  /** CONFLICT while volumes use it. */
  deletePool(id: string): Promise<void>;

  /** CONFLICT when the name or the shelf.slot is taken (across the whole cluster). */
  createVolume(volume: VolumeRecord): Promise<void>;
  getVolume(id: string): Promise<VolumeRecord | undefined>;
  findVolumeByName(name: string): Promise<VolumeRecord | undefined>;
  listVolumes(filter?: VolumeFilter): Promise<VolumeRecord[]>;
  /**
   * The same list as JSON text (an array of the same records in the same order), for callers that
   * only pass it on, like the API's volume list: a store may build the text without making the
   * records (SQLite does; at 10,000 volumes that is most of the list's cost, docs/benchmarks.md).
   */
  listVolumesJson(filter?: VolumeFilter): Promise<string>;
  /**
   * Applies `patch`, bumps the generation and updatedMs. With `expectedGeneration`, fails with
   * CONFLICT if the volume changed since it was read. NOT_FOUND if it does not exist.
   */
  updateVolume(
    id: string,
    patch: Patch<VolumeRecord>,
    expectedGeneration?: number,
  ): Promise<VolumeRecord>;
  /** Records observed fields (allocation, ready/failed) without bumping the generation. */
  observeVolume(id: string, observed: VolumeObservation): Promise<VolumeRecord>;
  deleteVolume(id: string): Promise<void>;
  /** The sum of the sizes of the pool's volumes (what a thin pool has promised). */
  provisionedBytes(poolId: string): Promise<number>;
  /** Every shelf.slot in use, for allocation. */
  usedAddresses(): Promise<Array<{ shelf: number; slot: number }>>;

  /** CONFLICT when the host already has a network of that name or bridge. */
  createNetwork(network: NetworkRecord): Promise<void>;
  getNetwork(id: string): Promise<NetworkRecord | undefined>;
  listNetworks(filter?: { hostId?: string }): Promise<NetworkRecord[]>;
  updateNetwork(id: string, patch: Patch<NetworkRecord>): Promise<NetworkRecord>;
  deleteNetwork(id: string): Promise<void>;

  /** CONFLICT when the name, the uuid or one of its MACs is taken (across the whole cluster). */
  createDomain(domain: DomainRecord): Promise<void>;
  getDomain(id: string): Promise<DomainRecord | undefined>;
  findDomainByName(name: string): Promise<DomainRecord | undefined>;
  listDomains(filter?: { hostId?: string }): Promise<DomainRecord[]>;
  /** As updateVolume: bumps the generation; CONFLICT on a stale expectedGeneration or a taken
   * name or MAC. */
  updateDomain(
    id: string,
    patch: Patch<DomainRecord>,
    expectedGeneration?: number,
  ): Promise<DomainRecord>;
  /** Records what the agent saw, without bumping the generation. */
  observeDomain(id: string, observed: DomainObserved | null): Promise<DomainRecord>;
  deleteDomain(id: string): Promise<void>;
  /**
   * The changes of the domain's (desired running, observed running) pair, oldest first: the
   * store appends one on each domain write that changes it (availability, issue 12).
   */
  listDomainStateChanges(domainId: string): Promise<DomainStateChange[]>;
  /** Every MAC of every domain's vifs, lower case. */
  usedMacs(): Promise<string[]>;

  createTask(task: TaskRecord): Promise<void>;
  getTask(id: string): Promise<TaskRecord | undefined>;
  listTasks(filter?: {
    state?: TaskRecord["state"];
    subjectId?: string;
    limit?: number;
  }): Promise<TaskRecord[]>;
  updateTask(id: string, patch: Patch<TaskRecord>): Promise<TaskRecord>;

  createToken(token: TokenRecord): Promise<void>;
  findTokenBySecretHash(secretHash: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;
  updateToken(id: string, patch: Patch<TokenRecord>): Promise<TokenRecord>;

  /** Appends and returns the entry's id. */
  appendAudit(entry: Omit<AuditRecord, "id">): Promise<number>;
  listAudit(filter?: { limit?: number; afterId?: number }): Promise<AuditRecord[]>;
  /**
   * Retention: deletes the entries older than `olderThanMs` (by timeMs), then the oldest beyond
   * the newest `rowsMax`. Returns how many went. Ids are never reused.
   */
  pruneAudit(limits: { olderThanMs: number; rowsMax: number }): Promise<number>;

  /**
   * Appends an event and, in the same transaction, deletes the oldest beyond the newest
   * `rowsMax`: the log never holds more. Returns the event's id (ids are never reused).
   */
  appendEvent(entry: Omit<EventRecord, "id">, rowsMax: number): Promise<number>;
  /** As appendEvent for several, in order, in ONE transaction (one fsync); their ids in order. */
  appendEvents(entries: ReadonlyArray<Omit<EventRecord, "id">>, rowsMax: number): Promise<number[]>;
  /** Oldest first: from a point (afterId, sinceMs) the oldest `limit`, else the newest `limit`. */
  listEvents(filter?: EventFilter): Promise<EventRecord[]>;

  /** The cluster's settings (JSON values by key) an admin set; unset keys are absent. */
  listSettings(): Promise<Record<string, unknown>>;
  setSetting(key: string, value: unknown): Promise<void>;

  close(): Promise<void>;
}
