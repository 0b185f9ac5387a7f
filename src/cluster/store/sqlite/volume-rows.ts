/** Volume records <-> SQLite rows (the conventions: row-json.ts). Pure. */
import type { VolumeGrant, VolumeRecord } from "../../model.js";
import { fromJson, toJson } from "./row-json.js";

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
