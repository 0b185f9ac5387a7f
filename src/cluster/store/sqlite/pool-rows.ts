/** Pool records <-> SQLite rows (the conventions: row-json.ts). Pure. */
import type { PoolRecord } from "../../model.js";
import { fromJson, toJson } from "./row-json.js";

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
