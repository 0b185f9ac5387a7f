/**
 * The control plane's records: what the controller stores and the API shows. Times are
 * milliseconds since the epoch; sizes are bytes; ids are opaque strings (`newId`).
 */

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
}

export interface HostRecord {
  id: string;
  name: string;
  roles: HostRole[];
  /** Interfaces the host's AoE exports are served on (storage role). */
  exportInterfaces: string[];
  inventory: HostInventory | null;
  lastSeenMs: number | null;
  createdMs: number;
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
  /** MACs allowed to reach the export (its AoE MAC mask list); empty = everyone. */
  allow: string[];
  state: VolumeState;
  error: string | null;
  /** Bumped on every change; updates can require the generation they read (optimistic locking). */
  generation: number;
  createdMs: number;
  updatedMs: number;
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
