/** Host records <-> SQLite rows (the conventions: row-json.ts). Pure. */
import type { HostRecord } from "../../model.js";
import { fromJson, toJson } from "./row-json.js";

export interface HostRow {
  id: string;
  name: string;
  roles: string;
  export_interfaces: string;
  inventory: string | null;
  last_seen_ms: number | null;
  created_ms: number;
  maintenance: string | null;
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
    maintenance: h.maintenance === null ? null : toJson(h.maintenance, "host maintenance"),
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
    maintenance: r.maintenance === null ? null : fromJson<HostRecord["maintenance"]>(r.maintenance),
    createdMs: r.created_ms,
  };
}
