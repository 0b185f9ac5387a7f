/**
 * The Store on one SQLite file (better-sqlite3). Calls are synchronous underneath but the Store is
 * asynchronous (an etcd store will be), so every method resolves or rejects, never throws. Every
 * write is one IMMEDIATE transaction: it takes the write lock before reading what it checks, so a
 * check and its write cannot interleave with another connection's.
 *
 * This façade opens the transactions (`read`, `write`); what happens inside them is in one file
 * per record type (host-table.ts, pool-table.ts, volume-table.ts, network-table.ts,
 * domain-table.ts, task-table.ts, token-table.ts, audit-table.ts, event-tables.ts), on the shared
 * statements and constraint explanations of sqlite-tables.ts.
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
} from "../../model.js";
import type { EventFilter, Patch, Store, VolumeFilter, VolumeObservation } from "../store.js";
import { AuditTable } from "./audit-table.js";
import { DomainTable } from "./domain-table.js";
import { EventTables } from "./event-tables.js";
import { HostTable } from "./host-table.js";
import { readSchemaVersion } from "./migrations.js";
import { NetworkTable } from "./network-table.js";
import { openDatabase } from "./open-database.js";
import { PoolTable } from "./pool-table.js";
import { SqliteTables } from "./sqlite-tables.js";
import { TaskTable } from "./task-table.js";
import { TokenTable } from "./token-table.js";
import { VolumeTable } from "./volume-table.js";

export interface SqliteStoreOptions {
  /** The clock that stamps volumes' updatedMs and migrations; Date.now by default. */
  nowMs?: () => number;
}

/** Opens (creating its folder and file if needed) and migrates the store at `file`. */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const nowMs = options.nowMs ?? Date.now;
  // The executor turns a throw into a rejection.
  return new Promise((resolve) =>
    resolve(new SqliteStore(new SqliteTables(openDatabase(file, nowMs), file, nowMs))),
  );
}

class SqliteStore implements Store {
  private readonly hosts: HostTable;
  private readonly pools: PoolTable;
  private readonly volumes: VolumeTable;
  private readonly networks: NetworkTable;
  private readonly domains: DomainTable;
  private readonly tasks: TaskTable;
  private readonly tokens: TokenTable;
  private readonly audit: AuditTable;
  private readonly events: EventTables;

  constructor(private readonly t: SqliteTables) {
    this.hosts = new HostTable(t);
    this.pools = new PoolTable(t);
    this.volumes = new VolumeTable(t);
    this.networks = new NetworkTable(t);
    this.domains = new DomainTable(t);
    this.tasks = new TaskTable(t);
    this.tokens = new TokenTable(t);
    this.audit = new AuditTable(t);
    this.events = new EventTables(t);
  }

  schemaVersion(): Promise<number> {
    return this.t.read(() => readSchemaVersion(this.t.db));
  }

  createHost(host: HostRecord): Promise<void> {
    return this.t.write(() => this.hosts.create(host));
  }
  getHost(id: string): Promise<HostRecord | undefined> {
    return this.t.read(() => this.hosts.get(id));
  }
  findHostByName(name: string): Promise<HostRecord | undefined> {
    return this.t.read(() => this.hosts.findByName(name));
  }
  listHosts(): Promise<HostRecord[]> {
    return this.t.read(() => this.hosts.list());
  }
  updateHost(id: string, patch: Patch<HostRecord>): Promise<HostRecord> {
    return this.t.write(() => this.hosts.update(id, patch));
  }
  observeHosts(
    reports: ReadonlyArray<{ id: string; inventory: HostRecord["inventory"]; lastSeenMs: number }>,
  ): Promise<void> {
    return this.t.write(() => this.hosts.observe(reports));
  }

  createPool(pool: PoolRecord): Promise<void> {
    return this.t.write(() => this.pools.create(pool));
  }
  getPool(id: string): Promise<PoolRecord | undefined> {
    return this.t.read(() => this.pools.get(id));
  }
  listPools(filter: { hostId?: string } = {}): Promise<PoolRecord[]> {
    return this.t.read(() => this.pools.list(filter));
  }
  updatePool(id: string, patch: Patch<PoolRecord>): Promise<PoolRecord> {
    return this.t.write(() => this.pools.update(id, patch));
  }
  deletePool(id: string): Promise<void> {
    return this.t.write(() => this.pools.delete(id));
  }

  createVolume(volume: VolumeRecord): Promise<void> {
    return this.t.write(() => this.volumes.create(volume));
  }
  getVolume(id: string): Promise<VolumeRecord | undefined> {
    return this.t.read(() => this.volumes.get(id));
  }
  findVolumeByName(name: string): Promise<VolumeRecord | undefined> {
    return this.t.read(() => this.volumes.findByName(name));
  }
  listVolumes(filter: VolumeFilter = {}): Promise<VolumeRecord[]> {
    return this.t.read(() =>
      this.volumes.texts(filter).map((text) => JSON.parse(text) as VolumeRecord),
    );
  }
  listVolumesJson(filter: VolumeFilter = {}): Promise<string> {
    return this.t.read(() => `[${this.volumes.texts(filter).join(",")}]`);
  }
  updateVolume(
    id: string,
    patch: Patch<VolumeRecord>,
    expectedGeneration?: number,
  ): Promise<VolumeRecord> {
    return this.t.write(() => this.volumes.update(id, patch, expectedGeneration));
  }
  observeVolume(id: string, observed: VolumeObservation): Promise<VolumeRecord> {
    return this.t.write(() => this.volumes.observe(id, observed));
  }
  deleteVolume(id: string): Promise<void> {
    return this.t.write(() => this.volumes.delete(id));
  }
  provisionedBytes(poolId: string): Promise<number> {
    return this.t.read(() => this.volumes.provisionedBytes(poolId));
  }
  usedAddresses(): Promise<Array<{ shelf: number; slot: number }>> {
    return this.t.read(() => this.volumes.usedAddresses());
  }

  createNetwork(network: NetworkRecord): Promise<void> {
    return this.t.write(() => this.networks.create(network));
  }
  getNetwork(id: string): Promise<NetworkRecord | undefined> {
    return this.t.read(() => this.networks.get(id));
  }
  listNetworks(filter: { hostId?: string } = {}): Promise<NetworkRecord[]> {
    return this.t.read(() => this.networks.list(filter));
  }
  updateNetwork(id: string, patch: Patch<NetworkRecord>): Promise<NetworkRecord> {
    return this.t.write(() => this.networks.update(id, patch));
  }
  deleteNetwork(id: string): Promise<void> {
    return this.t.write(() => this.networks.delete(id));
  }

  createDomain(domain: DomainRecord): Promise<void> {
    return this.t.write(() => this.domains.create(domain));
  }
  getDomain(id: string): Promise<DomainRecord | undefined> {
    return this.t.read(() => this.domains.get(id));
  }
  findDomainByName(name: string): Promise<DomainRecord | undefined> {
    return this.t.read(() => this.domains.findByName(name));
  }
  listDomains(filter: { hostId?: string } = {}): Promise<DomainRecord[]> {
    return this.t.read(() => this.domains.list(filter));
  }
  updateDomain(
    id: string,
    patch: Patch<DomainRecord>,
    expectedGeneration?: number,
  ): Promise<DomainRecord> {
    return this.t.write(() => this.domains.update(id, patch, expectedGeneration));
  }
  observeDomain(id: string, observed: DomainObserved | null): Promise<DomainRecord> {
    return this.t.write(() => this.domains.observe(id, observed));
  }
  deleteDomain(id: string): Promise<void> {
    return this.t.write(() => this.domains.delete(id));
  }
  listDomainStateChanges(domainId: string): Promise<DomainStateChange[]> {
    return this.t.read(() => this.domains.stateChanges(domainId));
  }
  usedMacs(): Promise<string[]> {
    return this.t.read(() => this.domains.usedMacs());
  }

  createTask(task: TaskRecord): Promise<void> {
    return this.t.write(() => this.tasks.create(task));
  }
  getTask(id: string): Promise<TaskRecord | undefined> {
    return this.t.read(() => this.tasks.get(id));
  }
  listTasks(
    filter: { state?: TaskRecord["state"]; subjectId?: string; limit?: number } = {},
  ): Promise<TaskRecord[]> {
    return this.t.read(() => this.tasks.list(filter));
  }
  updateTask(id: string, patch: Patch<TaskRecord>): Promise<TaskRecord> {
    return this.t.write(() => this.tasks.update(id, patch));
  }

  createToken(token: TokenRecord): Promise<void> {
    return this.t.write(() => this.tokens.create(token));
  }
  findTokenBySecretHash(secretHash: string): Promise<TokenRecord | undefined> {
    return this.t.read(() => this.tokens.findBySecretHash(secretHash));
  }
  listTokens(): Promise<TokenRecord[]> {
    return this.t.read(() => this.tokens.list());
  }
  updateToken(id: string, patch: Patch<TokenRecord>): Promise<TokenRecord> {
    return this.t.write(() => this.tokens.update(id, patch));
  }

  appendAudit(entry: Omit<AuditRecord, "id">): Promise<number> {
    return this.t.write(() => this.audit.append(entry));
  }
  listAudit(filter: { limit?: number; afterId?: number } = {}): Promise<AuditRecord[]> {
    return this.t.read(() => this.audit.list(filter));
  }
  pruneAudit(limits: { olderThanMs: number; rowsMax: number }): Promise<number> {
    return this.t.write(() => this.audit.prune(limits));
  }

  async appendEvent(entry: Omit<EventRecord, "id">, rowsMax: number): Promise<number> {
    const [id] = await this.appendEvents([entry], rowsMax);
    return id ?? 0;
  }
  appendEvents(
    entries: ReadonlyArray<Omit<EventRecord, "id">>,
    rowsMax: number,
  ): Promise<number[]> {
    return this.t.write(() => this.events.appendEvents(entries, rowsMax));
  }
  listEvents(filter: EventFilter = {}): Promise<EventRecord[]> {
    return this.t.read(() => this.events.listEvents(filter));
  }
  listSettings(): Promise<Record<string, unknown>> {
    return this.t.read(() => this.events.listSettings());
  }
  setSetting(key: string, value: unknown): Promise<void> {
    return this.t.write(() => this.events.setSetting(key, value));
  }

  close(): Promise<void> {
    this.t.close();
    return Promise.resolve();
  }
}
