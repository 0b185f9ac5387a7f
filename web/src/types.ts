/** The API's records as the UI reads them (the OpenAPI document at /api/v1/openapi.json). */
export type Role = "admin" | "operator" | "viewer" | "agent" | "join";

export interface WhoAmI {
  name: string;
  role: Role;
  tokenId: string;
  expiresMs: number | null;
}

export interface Host {
  id: string;
  name: string;
  roles: string[];
  exportInterfaces: string[];
  lastSeenMs: number | null;
  /** The controller's one state: lease, HA and maintenance combined (host-state.ts). */
  state?: "up" | "suspect" | "dead" | "fenced" | "maintenance";
  inventory: {
    hostname: string;
    agentVersion: string;
    interfaces: Array<{ ifname: string; mac: string; up: boolean }>;
    sanInterfaces?: string[];
    hypervisor?: {
      kind: string;
      version: string;
      cpus: number;
      totalMemoryMiB: number;
      freeMemoryMiB: number;
    };
  } | null;
}

export interface Pool {
  id: string;
  name: string;
  hostId: string;
  kind: string;
  capacityBytes: number | null;
  freeBytes: number | null;
}

export interface Volume {
  id: string;
  name: string;
  kind: "volume" | "snapshot";
  poolId: string;
  hostId: string;
  sizeBytes: number;
  allocatedBytes: number | null;
  shelf: number;
  slot: number;
  exported: boolean;
  allow: string[];
  allowEveryone: boolean;
  grants: Array<{ domainId: string; hostId: string; macs: string[] }>;
  state: string;
  error: string | null;
}

export type DomainState = "running" | "paused" | "stopped" | "shutdown" | "crashed";

export interface Domain {
  id: string;
  name: string;
  config: string;
  memoryMiB: number;
  vcpus: number;
  disks: Array<{ vdev: string; target: string; readOnly: boolean; volumeId: string | null }>;
  vifs: Array<{ mac: string; bridge: string }>;
  onPoweroff: string;
  onReboot: string;
  onCrash: string;
  hostId: string | null;
  desiredState: string;
  generation: number;
  observed: {
    state: DomainState;
    domid: number | null;
    memoryMiB: number;
    vcpus: number;
    cpuTimeS: number;
    lastExit: { reason: string; action: string; atMs: number } | null;
    error: string | null;
  } | null;
}

export interface Task {
  id: string;
  kind: string;
  state: "queued" | "running" | "succeeded" | "failed";
  progress: number;
  message: string;
  subjectId: string | null;
  error: { code: string; message: string } | null;
  createdBy: string;
  createdMs: number;
  updatedMs: number;
}

export interface Network {
  id: string;
  name: string;
  hostId: string;
  bridge: string;
  uplink: string | null;
  vlanId: number | null;
  error: string | null;
  createdMs: number;
}

export interface Token {
  id: string;
  name: string;
  role: Role;
  hostId: string | null;
  createdMs: number;
  expiresMs: number | null;
  revoked: boolean;
}

export interface AuditEntry {
  id: number;
  timeMs: number;
  actor: string;
  role: string;
  method: string;
  path: string;
  status: number;
  result: "ok" | "error";
  subject: string | null;
  detail: string | null;
}

/** GET /api/v1/metrics/hosts: a host's recent samples from its agent's reports, oldest first. */
export interface HostSample {
  atMs: number;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
  /** vCPU-seconds its guests used per second since the previous report. */
  cpuLoad: number | null;
  poolUsedBytes: number | null;
  poolCapacityBytes: number | null;
  /** Each AoE export's bytes per second since the previous report (busiest first, bounded). */
  exports: Array<{ volumeId: string; readBps: number; writeBps: number }>;
}

export interface HostSeries {
  hostId: string;
  samples: HostSample[];
}
