/**
 * What the controller and an agent say to each other: the desired state the controller hands a
 * host, and the status the agent reports back. Shared by both sides (and the API's schemas).
 */
import type { HostInventory, HostRole, PoolKind, VolumeRecord } from "./model.js";

export interface DesiredPool {
  id: string;
  name: string;
  kind: PoolKind;
  path: string;
  devices: string[];
}

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
  | "state"
  | "generation"
>;

export interface DesiredState {
  hostId: string;
  roles: HostRole[];
  /** Interfaces to serve AoE exports on. */
  exportInterfaces: string[];
  pools: DesiredPool[];
  volumes: DesiredVolume[];
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
}

export interface JoinRequest {
  name: string;
  roles: HostRole[];
  exportInterfaces: string[];
}
