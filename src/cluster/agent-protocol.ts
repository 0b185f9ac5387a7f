/**
 * What the controller and an agent say to each other: the desired state the controller hands a
 * host, and the status the agent reports back. Shared by both sides (and the API's schemas).
 */
import type { DomainBoot } from "../domain/import/domain-import.js";
import type { MigrationProgress, MigrationReport } from "../hypervisor/migration.js";
import type {
  DomainAction,
  DomainObserved,
  DomainStopMode,
  HostInventory,
  HostRole,
  PoolKind,
  VolumeRecord,
} from "./model.js";

export interface DesiredPool {
  id: string;
  name: string;
  kind: PoolKind;
  path: string;
  devices: string[];
}

/**
 * A volume as its storage host must serve it. `allow` is the whole MAC mask (the admin's MACs and
 * the compute hosts granted); with `allowEveryone` false and `allow` empty, nobody may see it.
 */
export type DesiredVolume = Pick<
  VolumeRecord,
  | "id"
  | "name"
  | "kind"
  | "poolId"
  | "sizeBytes"
  | "sourceId"
  | "shelf"
  | "slot"
  | "exported"
  | "allow"
  | "allowEveryone"
  | "state"
  | "generation"
>;

export interface DesiredState {
  hostId: string;
  /** A hash of the rest: the same content, the same revision (long-polls wait for another). */
  revision: string;
  roles: HostRole[];
  /** Interfaces to serve AoE exports on. */
  exportInterfaces: string[];
  pools: DesiredPool[];
  volumes: DesiredVolume[];
  networks: DesiredNetwork[];
  domains: DesiredDomain[];
  /**
   * Domains that ran here and now run elsewhere (failover): a guest of one of them (its name and
   * uuid) is destroyed, its disks left alone. Exactly one copy.
   */
  evict: Eviction[];
  /** Consoles someone asked to attach to: the agent connects back with the session id. */
  consoles: Array<{ sessionId: string; domainName: string }>;
  /** Live migrations this host takes part in (the controller's migration-broker.ts). */
  migrations?: DesiredMigration[];
}

/**
 * One side of a live migration. The agent connects back to the controller with `sessionId`
 * (GET /api/v1/agent/migration/{sessionId}) and the controller pipes the two sides' streams.
 *
 * - receive/run: bring up the disks, start the guest waiting for its state, connect, receive.
 * - receive/abort: destroy the waiting (or arrived) copy and release its disks.
 * - send/run: connect and send the running guest; on failure it runs on here.
 * - send/finish: the guest runs on the destination now: destroy the stopped copy left here.
 * - send/abort: the destination has no copy: resume this one if the transfer left it paused.
 */
export interface DesiredMigration {
  sessionId: string;
  role: "send" | "receive";
  phase: "run" | "abort" | "finish";
  /** The domain as the source runs it (its frozen spec). */
  domain: DesiredDomain;
}

export type MigrationSideState =
  "preparing" | "ready" | "sending" | "sent" | "running" | "failed" | "done";

export interface ObservedMigration {
  sessionId: string;
  role: "send" | "receive";
  state: MigrationSideState;
  progress: MigrationProgress | null;
  report: MigrationReport | null;
  error: string | null;
}

export interface DesiredNetwork {
  id: string;
  name: string;
  bridge: string;
  uplink: string | null;
  vlanId: number | null;
}

/**
 * A domain disk as the host must attach it: an AoE volume, always (a host path is refused by the
 * controller at start and by the agent: compute/desired-domain-check.ts).
 */
export interface DesiredDomainDisk {
  vdev: string;
  readOnly: boolean;
  kind: "aoe";
  shelf: number;
  slot: number;
}

/**
 * A domain as its host must run it: the spec a controller `start` checked and froze (name, uuid,
 * file, memory, vcpus, boot, disks, vifs, on_*), which every restart on the host reuses, and the
 * lifecycle fields below it that change without a new start.
 */
export interface DesiredDomain {
  id: string;
  name: string;
  uuid: string;
  config: string;
  memoryMiB: number;
  vcpus: number;
  boot: DomainBoot;
  disks: DesiredDomainDisk[];
  vifs: Array<{ mac: string; bridge: string }>;
  onPoweroff: DomainAction;
  onReboot: DomainAction;
  onCrash: DomainAction;
  /** Keys the domain policy refuses that an admin allowed in `config` (the xen driver's check). */
  allowedUnsafe: string[];
  desiredState: "running" | "paused" | "stopped";
  stopMode: DomainStopMode;
  shutdownTimeoutS: number;
  rebootSeq: number;
  generation: number;
  /** High availability: restarted elsewhere if the host dies; destroyed when it self-fences. */
  ha: boolean;
}

export type ObservedDomain = DomainObserved & { id: string };

export interface ObservedNetwork {
  id: string;
  error: string | null;
}

export interface ObservedVolume {
  id: string;
  present: boolean;
  sizeBytes: number | null;
  allocatedBytes: number | null;
  /** The generation of the desired volume the agent has fully applied (file and export). */
  appliedGeneration: number;
  /** Set when the agent could not apply it; the controller fails the volume's task. */
  error: string | null;
  /** A copy in progress (clone or snapshot without reflink). */
  progress: { doneBytes: number; totalBytes: number } | null;
  /** Bytes its AoE export read and wrote since the target started (absent: not exported). */
  io?: { readBytes: number; writtenBytes: number };
}

export interface ObservedPool {
  id: string;
  capacityBytes: number;
  freeBytes: number;
  error: string | null;
}

export interface AgentStatus {
  inventory: HostInventory;
  pools: ObservedPool[];
  volumes: ObservedVolume[];
  /** AoE targets seen on the wire that this cluster does not manage (address clashes). */
  foreignTargets: Array<{ shelf: number; slot: number; mac: string }>;
  /** Compute hosts: every desired domain's state (absent on storage-only agents). */
  domains?: ObservedDomain[];
  networks?: ObservedNetwork[];
  /** Compute hosts: the live migrations they take part in. */
  migrations?: ObservedMigration[];
  /**
   * Compute hosts: every guest the hypervisor lists, desired here or not (a controller restarted
   * mid-migration asks both hosts which copy runs: migration-recovery.ts).
   */
  guests?: HostGuest[];
}

/** A guest as the host's hypervisor lists it. */
export interface HostGuest {
  name: string;
  uuid: string;
  state: "running" | "paused" | "stopped";
}

export interface JoinRequest {
  name: string;
  roles: HostRole[];
  exportInterfaces: string[];
}

/** The upgrade protocol of a live migration's stream (as etherplane-console for consoles). */
export const MIGRATION_UPGRADE = "etherplane-migration";

/** A guest a host may still run whose domain now runs elsewhere (failover.ts): destroy it. */
export interface Eviction {
  id: string;
  name: string;
  uuid: string;
}
