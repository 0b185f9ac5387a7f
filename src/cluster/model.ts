/**
 * The control plane's records: what the controller stores and the API shows. Times are
 * milliseconds since the epoch; sizes are bytes; ids are opaque strings (`newId`).
 */
import type { DomainFileFields, DomainVif } from "../domain/domain-parts.js";
import type { DomainBoot } from "../domain/import/domain-import.js";
import type { LifecycleAction } from "../domain/xl-cfg/fields.js";

export type Role = "admin" | "operator" | "viewer" | "agent";
export const HUMAN_ROLES = ["admin", "operator", "viewer"] as const;

export type HostRole = "storage" | "compute";

export interface InterfaceInfo {
  ifname: string;
  mac: string;
  mtu: number;
  up: boolean;
}

/** What an agent reports about its host. */
export interface HostInventory {
  hostname: string;
  agentVersion: string;
  interfaces: InterfaceInfo[];
  /** The interfaces this host reaches the SAN from (its agent's --san-iface / --aoe-iface). */
  sanInterfaces?: string[];
  /** Compute hosts: the hypervisor and what it can still give (absent on storage-only hosts). */
  hypervisor?: HypervisorInventory;
}

export interface HypervisorInventory {
  kind: "xen" | "qemu" | "fake";
  version: string;
  detail: string;
  cpus: number;
  totalMemoryMiB: number;
  freeMemoryMiB: number;
  /** Guests the hypervisor runs that etherplane does not manage (e.g. Domain-0). */
  otherGuests: Array<{ name: string; domid: number; memoryMiB: number; vcpus: number }>;
}

/**
 * A host's state as the controller sees it (src/cluster/controller/host-liveness.ts): up (its
 * agent renews its lease), suspect (a renewal is late), dead (the lease expired; fencing runs),
 * fenced (every storage agent confirmed it no longer serves the host's SAN MACs), maintenance (an
 * admin took it out of placement). One type for every part that reads or sets it.
 */
export type HostState = "up" | "suspect" | "dead" | "fenced" | "maintenance";

export interface HostRecord {
  id: string;
  name: string;
  roles: HostRole[];
  /** Interfaces the host's AoE exports are served on (storage role). */
  exportInterfaces: string[];
  inventory: HostInventory | null;
  lastSeenMs: number | null;
  /** Set while the host is in maintenance (`host maintenance`): nothing new is placed there. */
  maintenance: HostMaintenance | null;
  createdMs: number;
}

/** A host's maintenance: since when, who asked, and what it stopped to let go there again. */
export interface HostMaintenance {
  sinceMs: number;
  by: string;
  /** The evacuation's task. */
  taskId: string | null;
  /** Domains pinned here that the evacuation shut down (--allow-restart): `host activate`
   * starts them again. */
  stoppedDomainIds: string[];
}

export type PoolKind = "directory" | "block";

export interface PoolRecord {
  id: string;
  name: string;
  hostId: string;
  kind: PoolKind;
  /** directory: the folder holding volume files; block: unused here (see devices). */
  path: string;
  /** block: the partitions or logical volumes the pool may hand out. */
  devices: string[];
  /** Observed by the agent. */
  capacityBytes: number | null;
  freeBytes: number | null;
  createdMs: number;
}

export type VolumeKind = "volume" | "snapshot";

/**
 * creating: recorded, the agent has not made it yet · ready · resizing · deleting: the agent is
 * removing it · failed: the agent could not make it (see `error`).
 */
export type VolumeState = "creating" | "ready" | "resizing" | "deleting" | "failed";

export interface VolumeRecord {
  id: string;
  name: string;
  kind: VolumeKind;
  poolId: string;
  hostId: string;
  sizeBytes: number;
  /** Observed by the agent (sparse files allocate less than their size). */
  allocatedBytes: number | null;
  /** The volume this one was cloned or snapshotted from, with its content at that time. */
  sourceId: string | null;
  shelf: number;
  slot: number;
  exported: boolean;
  /**
   * MACs an admin allowed to reach the export (`volume allow`). Empty means nobody (unlike an
   * AoE MAC mask list, where empty means everyone): a volume is seen only by these MACs, by the
   * hosts in `grants`, or by everyone when `allowEveryone` is set.
   */
  allow: string[];
  /** An admin opened the volume to every host on the SAN (`volume allow NAME --everyone`). */
  allowEveryone: boolean;
  /** Compute hosts running its domains: added by placement, removed when the domain stops. */
  grants: VolumeGrant[];
  /** Observed: the generation whose export (file, mask, reservation) the storage host applied. */
  appliedGeneration: number;
  state: VolumeState;
  error: string | null;
  /** Bumped on every change; updates can require the generation they read (optimistic locking). */
  generation: number;
  createdMs: number;
  updatedMs: number;
}

/** A compute host's access to a volume, for as long as a domain using it runs there. */
export interface VolumeGrant {
  domainId: string;
  hostId: string;
  /** The host's SAN MACs when the grant was made. */
  macs: string[];
  /** The volume's generation that carries the grant: applied once appliedGeneration reaches it. */
  generation: number;
}

export type TaskState = "queued" | "running" | "succeeded" | "failed";

export interface TaskRecord {
  id: string;
  /** e.g. volume.create, volume.clone, volume.delete */
  kind: string;
  state: TaskState;
  /** 0..1 */
  progress: number;
  message: string;
  /** The record the task works on (e.g. a volume id). */
  subjectId: string | null;
  result: unknown;
  error: { code: string; message: string } | null;
  createdBy: string;
  createdMs: number;
  updatedMs: number;
}

export interface TokenRecord {
  id: string;
  name: string;
  role: Role | "join";
  /** SHA-256 (hex) of the secret; the secret itself is never stored. */
  secretHash: string;
  /** Agent tokens belong to one host. */
  hostId: string | null;
  createdMs: number;
  expiresMs: number | null;
  revoked: boolean;
}

export interface AuditRecord {
  id: number;
  timeMs: number;
  /** Token name, or "anonymous". */
  actor: string;
  role: string;
  method: string;
  path: string;
  status: number;
  result: "ok" | "error";
  /** What was acted on, and a short summary (never a secret). */
  subject: string | null;
  detail: string | null;
}

/**
 * One line of the cluster's event log (`etherplane events`): what happened to what, when. Kept
 * bounded in the store (the oldest go first). `kind` is dotted, e.g. domain.started,
 * host.maintenance; `subject` names the record (a domain or host name).
 */
/** One change of a domain's (desired running, observed running) pair (domain-availability.ts). */
export interface DomainStateChange {
  timeMs: number;
  /** Desired state `running`. */
  wanted: boolean;
  /** Observed state `running`. */
  up: boolean;
}

export interface EventRecord {
  id: number;
  timeMs: number;
  kind: string;
  subject: string;
  message: string;
  fields: Record<string, EventFieldValue>;
}

export type EventFieldValue = string | number | boolean | null;

/** A named network on a host: a bridge, optionally on an uplink, optionally on an 802.1q VLAN. */
export interface NetworkRecord {
  id: string;
  name: string;
  hostId: string;
  bridge: string;
  uplink: string | null;
  vlanId: number | null;
  /** Observed by the agent: null once set up, else why it could not be. */
  error: string | null;
  createdMs: number;
}

/** xl.cfg(5)'s actions for on_poweroff, on_reboot and on_crash. */
export type DomainAction = LifecycleAction;

export type { DomainDisk, DomainFileFields, DomainVif } from "../domain/domain-parts.js";

/** How a running domain is asked to stop. */
export type DomainStopMode = "shutdown" | "destroy";

/** What the agent last saw of a domain on its host. */
export interface DomainObserved {
  /** running: a guest exists and is not paused; paused; stopped: no guest; shutdown/crashed: a
   * guest that stopped by itself and is kept (on_* = preserve). */
  state: "running" | "paused" | "stopped" | "shutdown" | "crashed";
  domid: number | null;
  /** xl list's six flags, e.g. -b----. */
  flags: string;
  memoryMiB: number;
  vcpus: number;
  cpuTimeS: number;
  /** The generation of the desired domain the agent has applied. */
  appliedGeneration: number;
  appliedRebootSeq: number;
  /** The last time the guest stopped by itself, and what the agent did about it. */
  lastExit: { reason: "poweroff" | "reboot" | "crash"; action: DomainAction; atMs: number } | null;
  /** Restarts the agent made by policy (on_reboot / on_crash). */
  restarts: number;
  error: string | null;
  atMs: number;
}

/** A disk as a start checked it: its volume, and that volume's AoE address then. */
export interface PlacedDisk {
  vdev: string;
  readOnly: boolean;
  volumeId: string;
  shelf: number;
  slot: number;
}

/**
 * The spec a `start` checked (placement, disks, the file read again) and froze: what the host
 * runs until the next start. A restart by on_reboot/on_crash, a guest that vanished and an agent
 * restart all run this one; an edit of the file changes only the record, for the next start.
 */
export interface DomainPlacedSpec {
  name: string;
  uuid: string;
  config: string;
  memoryMiB: number;
  vcpus: number;
  boot: DomainBoot;
  /** AoE volumes only: a start refuses any other disk. */
  disks: PlacedDisk[];
  vifs: DomainVif[];
  onPoweroff: DomainAction;
  onReboot: DomainAction;
  onCrash: DomainAction;
  /** The refused xl.cfg keys an admin allowed in the file (domain policy), as they were then. */
  allowedUnsafe: string[];
  placedMs: number;
}

/** A domain: what its file defines (DomainFileFields, src/domain), and the cluster's state of it. */
export interface DomainRecord extends DomainFileFields {
  id: string;
  /**
   * Placement settings (etherplane's, not xl.cfg keys; `domain set`): two domains of one
   * anti-affinity group never share a host when another host fits; a pinned domain runs only on
   * the hosts named (ids; empty: anywhere).
   */
  antiAffinity: string | null;
  pinHosts: string[];
  /** The host it runs on, or last ran on; null before its first start. */
  hostId: string | null;
  /** What the last start checked and the host runs (or ran); null before its first start. */
  placed: DomainPlacedSpec | null;
  desiredState: "running" | "paused" | "stopped";
  stopMode: DomainStopMode;
  /** A graceful shutdown becomes a destroy after this long. */
  shutdownTimeoutS: number;
  /** Bumped to ask the agent for a reboot. */
  rebootSeq: number;
  observed: DomainObserved | null;
  /**
   * High availability (controller/ha-policy.ts): restarted elsewhere when its host dies. null or
   * absent: on when on_crash or on_reboot is restart. `domain set NAME --ha on|off|auto`.
   */
  ha?: boolean | null;
  /** Restart order after a host dies: the highest first (`--ha-priority N`, 0 by default). */
  haPriority?: number;
  /**
   * Why HA's restart of this domain after its host died waits (a storage host that has not
   * confirmed the fence, no host fits, attempts failing), while it does. Not stored: the API's
   * view adds it from the controller's memory (HaManager.heldReason).
   */
  haHeld?: string;
  generation: number;
  createdMs: number;
  updatedMs: number;
}
