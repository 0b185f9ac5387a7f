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
  inventory: {
    hostname: string;
    agentVersion: string;
    interfaces: Array<{ ifname: string; up: boolean }>;
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
