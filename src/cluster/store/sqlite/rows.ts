/**
 * Records <-> SQLite rows. Columns are snake_case; arrays and objects are JSON text; booleans are
 * 0/1; an absent task result (undefined) is SQL NULL while a null result is the JSON text "null".
 * Pure functions, no database.
 */
import { EtherplaneError } from "../../../foundation/errors.js";
import type {
  AuditRecord,
  HostRecord,
  PoolRecord,
  TaskRecord,
  TokenRecord,
  VolumeGrant,
  VolumeRecord,
} from "../../model.js";

/** A JSON column's text is bounded: records are control-plane state, not bulk data. */
export const JSON_COLUMN_BYTES_MAX = 1024 * 1024;

export interface HostRow {
  id: string;
  name: string;
  roles: string;
  export_interfaces: string;
  inventory: string | null;
  last_seen_ms: number | null;
  created_ms: number;
}

export interface PoolRow {
  id: string;
  name: string;
  host_id: string;
  kind: string;
  path: string;
  devices: string;
  capacity_bytes: number | null;
  free_bytes: number | null;
  created_ms: number;
}

export interface VolumeRow {
  id: string;
  name: string;
  kind: string;
  pool_id: string;
  host_id: string;
  size_bytes: number;
  allocated_bytes: number | null;
  source_id: string | null;
  shelf: number;
  slot: number;
  exported: number;
  allow: string;
  state: string;
  error: string | null;
  generation: number;
  created_ms: number;
  updated_ms: number;
  allow_everyone: number;
  grants: string;
  applied_generation: number;
}

export interface TaskRow {
  id: string;
  kind: string;
  state: string;
  progress: number;
  message: string;
  subject_id: string | null;
  result: string | null;
  error: string | null;
  created_by: string;
  created_ms: number;
  updated_ms: number;
}

export interface TokenRow {
  id: string;
  name: string;
  role: string;
  secret_hash: string;
  host_id: string | null;
  created_ms: number;
  expires_ms: number | null;
  revoked: number;
}

export interface AuditRow {
  id: number;
  time_ms: number;
  actor: string;
  role: string;
  method: string;
  path: string;
  status: number;
  result: string;
  subject: string | null;
  detail: string | null;
}

/** The column list of a row type, in a fixed order, for INSERT and UPDATE statements. */
export const COLUMNS = {
  hosts: ["id", "name", "roles", "export_interfaces", "inventory", "last_seen_ms", "created_ms"],
  pools: [
    "id",
    "name",
    "host_id",
    "kind",
    "path",
    "devices",
    "capacity_bytes",
    "free_bytes",
    "created_ms",
  ],
  volumes: [
    "id",
    "name",
    "kind",
    "pool_id",
    "host_id",
    "size_bytes",
    "allocated_bytes",
    "source_id",
    "shelf",
    "slot",
    "exported",
    "allow",
    "state",
    "error",
    "generation",
    "created_ms",
    "updated_ms",
    "allow_everyone",
    "grants",
    "applied_generation",
  ],
  tasks: [
    "id",
    "kind",
    "state",
    "progress",
    "message",
    "subject_id",
    "result",
    "error",
    "created_by",
    "created_ms",
    "updated_ms",
  ],
  tokens: ["id", "name", "role", "secret_hash", "host_id", "created_ms", "expires_ms", "revoked"],
  networks: ["id", "name", "host_id", "bridge", "uplink", "vlan_id", "error", "created_ms"],
  domains: [
    "id",
    "name",
    "uuid",
    "config",
    "memory_mib",
    "vcpus",
    "disks",
    "vifs",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "allowed_unsafe",
    "host_id",
    "placed",
    "desired_state",
    "stop_mode",
    "shutdown_timeout_s",
    "reboot_seq",
    "observed",
    "ha",
    "ha_priority",
    "generation",
    "created_ms",
    "updated_ms",
  ],
} as const;

export type RecordTable = keyof typeof COLUMNS;

export function toJson(value: unknown, column: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${column} cannot be stored as JSON`, { cause });
  }
  if (text === undefined) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${column} cannot be stored as JSON`);
  }
  if (Buffer.byteLength(text) > JSON_COLUMN_BYTES_MAX) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${column} is ${Buffer.byteLength(text)} bytes of JSON; the most a record holds is ${JSON_COLUMN_BYTES_MAX}`,
    );
  }
  return text;
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function hostToRow(h: HostRecord): HostRow {
  return {
    id: h.id,
    name: h.name,
    roles: toJson(h.roles, "host roles"),
    export_interfaces: toJson(h.exportInterfaces, "host exportInterfaces"),
    inventory: h.inventory === null ? null : toJson(h.inventory, "host inventory"),
    last_seen_ms: h.lastSeenMs,
    created_ms: h.createdMs,
  };
}

export function rowToHost(r: HostRow): HostRecord {
  return {
    id: r.id,
    name: r.name,
    roles: fromJson<HostRecord["roles"]>(r.roles),
    exportInterfaces: fromJson<string[]>(r.export_interfaces),
    inventory: r.inventory === null ? null : fromJson<HostRecord["inventory"]>(r.inventory),
    lastSeenMs: r.last_seen_ms,
    createdMs: r.created_ms,
  };
}

export function poolToRow(p: PoolRecord): PoolRow {
  return {
    id: p.id,
    name: p.name,
    host_id: p.hostId,
    kind: p.kind,
    path: p.path,
    devices: toJson(p.devices, "pool devices"),
    capacity_bytes: p.capacityBytes,
    free_bytes: p.freeBytes,
    created_ms: p.createdMs,
  };
}

export function rowToPool(r: PoolRow): PoolRecord {
  return {
    id: r.id,
    name: r.name,
    hostId: r.host_id,
    kind: r.kind as PoolRecord["kind"],
    path: r.path,
    devices: fromJson<string[]>(r.devices),
    capacityBytes: r.capacity_bytes,
    freeBytes: r.free_bytes,
    createdMs: r.created_ms,
  };
}

export function volumeToRow(v: VolumeRecord): VolumeRow {
  return {
    id: v.id,
    name: v.name,
    kind: v.kind,
    pool_id: v.poolId,
    host_id: v.hostId,
    size_bytes: v.sizeBytes,
    allocated_bytes: v.allocatedBytes,
    source_id: v.sourceId,
    shelf: v.shelf,
    slot: v.slot,
    exported: v.exported ? 1 : 0,
    allow: toJson(v.allow, "volume allow"),
    state: v.state,
    error: v.error,
    generation: v.generation,
    created_ms: v.createdMs,
    updated_ms: v.updatedMs,
    allow_everyone: v.allowEveryone ? 1 : 0,
    grants: toJson(v.grants, "volume grants"),
    applied_generation: v.appliedGeneration,
  };
}

export function rowToVolume(r: VolumeRow): VolumeRecord {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as VolumeRecord["kind"],
    poolId: r.pool_id,
    hostId: r.host_id,
    sizeBytes: r.size_bytes,
    allocatedBytes: r.allocated_bytes,
    sourceId: r.source_id,
    shelf: r.shelf,
    slot: r.slot,
    exported: r.exported === 1,
    allow: fromJson<string[]>(r.allow),
    allowEveryone: r.allow_everyone === 1,
    grants: fromJson<VolumeGrant[]>(r.grants),
    appliedGeneration: r.applied_generation,
    state: r.state as VolumeRecord["state"],
    error: r.error,
    generation: r.generation,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
  };
}

/**
 * A volumes row as the JSON text of its record, built by SQLite: the same fields, values and order
 * as rowToVolume (the Store contract test compares the two). Lists use it: 10,000 volumes cross
 * from SQLite as 10,000 strings for JSON.parse rather than 170,000 values in row objects mapped
 * one by one, about 3x faster (bench/api.ts, docs/benchmarks.md).
 */
export const VOLUME_JSON_SQL = `json_object(
  'id', id, 'name', name, 'kind', kind, 'poolId', pool_id, 'hostId', host_id,
  'sizeBytes', size_bytes, 'allocatedBytes', allocated_bytes, 'sourceId', source_id,
  'shelf', shelf, 'slot', slot, 'exported', json(iif(exported = 1, 'true', 'false')),
  'allow', json(allow), 'allowEveryone', json(iif(allow_everyone = 1, 'true', 'false')),
  'grants', json(grants), 'appliedGeneration', applied_generation, 'state', state, 'error', error, 'generation', generation,
  'createdMs', created_ms, 'updatedMs', updated_ms)`;

export function taskToRow(t: TaskRecord): TaskRow {
  return {
    id: t.id,
    kind: t.kind,
    state: t.state,
    progress: t.progress,
    message: t.message,
    subject_id: t.subjectId,
    result: t.result === undefined ? null : toJson(t.result, "task result"),
    error: t.error === null ? null : toJson(t.error, "task error"),
    created_by: t.createdBy,
    created_ms: t.createdMs,
    updated_ms: t.updatedMs,
  };
}

export function rowToTask(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    kind: r.kind,
    state: r.state as TaskRecord["state"],
    progress: r.progress,
    message: r.message,
    subjectId: r.subject_id,
    result: r.result === null ? undefined : fromJson<unknown>(r.result),
    error: r.error === null ? null : fromJson<TaskRecord["error"]>(r.error),
    createdBy: r.created_by,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
  };
}

export function tokenToRow(t: TokenRecord): TokenRow {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    secret_hash: t.secretHash,
    host_id: t.hostId,
    created_ms: t.createdMs,
    expires_ms: t.expiresMs,
    revoked: t.revoked ? 1 : 0,
  };
}

export function rowToToken(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as TokenRecord["role"],
    secretHash: r.secret_hash,
    hostId: r.host_id,
    createdMs: r.created_ms,
    expiresMs: r.expires_ms,
    revoked: r.revoked === 1,
  };
}

export function auditToRow(a: Omit<AuditRecord, "id">): Omit<AuditRow, "id"> {
  return {
    time_ms: a.timeMs,
    actor: a.actor,
    role: a.role,
    method: a.method,
    path: a.path,
    status: a.status,
    result: a.result,
    subject: a.subject,
    detail: a.detail,
  };
}

export function rowToAudit(r: AuditRow): AuditRecord {
  return {
    id: r.id,
    timeMs: r.time_ms,
    actor: r.actor,
    role: r.role,
    method: r.method,
    path: r.path,
    status: r.status,
    result: r.result as AuditRecord["result"],
    subject: r.subject,
    detail: r.detail,
  };
}
