/**
 * Records <-> SQLite rows: the tables' column lists, and every table's mapping (one file per
 * table, the conventions in row-json.ts) under one name for the store. Pure functions, no
 * database.
 */
export * from "./row-json.js";
export * from "./host-rows.js";
export * from "./pool-rows.js";
export * from "./volume-rows.js";
export * from "./task-rows.js";
export * from "./token-rows.js";
export * from "./audit-rows.js";

/** The column list of a row type, in a fixed order, for INSERT and UPDATE statements. */
export const COLUMNS = {
  hosts: [
    "id",
    "name",
    "roles",
    "export_interfaces",
    "inventory",
    "last_seen_ms",
    "created_ms",
    "maintenance",
  ],
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
    "anti_affinity",
    "pin_hosts",
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
