/** Network and domain records <-> SQLite rows (the conventions: row-json.ts). Pure. */
import type { DomainRecord, NetworkRecord } from "../../model.js";
import { fromJson, toJson } from "./row-json.js";

export interface NetworkRow {
  id: string;
  name: string;
  host_id: string;
  bridge: string;
  uplink: string | null;
  vlan_id: number | null;
  error: string | null;
  created_ms: number;
}

export interface DomainRow {
  id: string;
  name: string;
  uuid: string;
  config: string;
  memory_mib: number;
  vcpus: number;
  disks: string;
  vifs: string;
  on_poweroff: string;
  on_reboot: string;
  on_crash: string;
  allowed_unsafe: string;
  anti_affinity: string | null;
  pin_hosts: string;
  host_id: string | null;
  placed: string | null;
  desired_state: string;
  stop_mode: string;
  shutdown_timeout_s: number;
  reboot_seq: number;
  observed: string | null;
  ha: number | null;
  ha_priority: number;
  generation: number;
  created_ms: number;
  updated_ms: number;
}

export function networkToRow(n: NetworkRecord): NetworkRow {
  return {
    id: n.id,
    name: n.name,
    host_id: n.hostId,
    bridge: n.bridge,
    uplink: n.uplink,
    vlan_id: n.vlanId,
    error: n.error,
    created_ms: n.createdMs,
  };
}

export function rowToNetwork(r: NetworkRow): NetworkRecord {
  return {
    id: r.id,
    name: r.name,
    hostId: r.host_id,
    bridge: r.bridge,
    uplink: r.uplink,
    vlanId: r.vlan_id,
    error: r.error,
    createdMs: r.created_ms,
  };
}

export function domainToRow(d: DomainRecord): DomainRow {
  return {
    id: d.id,
    name: d.name,
    uuid: d.uuid,
    config: d.config,
    memory_mib: d.memoryMiB,
    vcpus: d.vcpus,
    disks: toJson(d.disks, "domain disks"),
    vifs: toJson(d.vifs, "domain vifs"),
    on_poweroff: d.onPoweroff,
    on_reboot: d.onReboot,
    on_crash: d.onCrash,
    allowed_unsafe: toJson(d.allowedUnsafe, "domain allowed_unsafe"),
    anti_affinity: d.antiAffinity,
    pin_hosts: toJson(d.pinHosts, "domain pin_hosts"),
    host_id: d.hostId,
    placed: d.placed === null ? null : toJson(d.placed, "domain placed spec"),
    desired_state: d.desiredState,
    stop_mode: d.stopMode,
    shutdown_timeout_s: d.shutdownTimeoutS,
    reboot_seq: d.rebootSeq,
    observed: d.observed === null ? null : toJson(d.observed, "domain observed"),
    ha: d.ha === undefined || d.ha === null ? null : d.ha ? 1 : 0,
    ha_priority: d.haPriority ?? 0,
    generation: d.generation,
    created_ms: d.createdMs,
    updated_ms: d.updatedMs,
  };
}

export function rowToDomain(r: DomainRow): DomainRecord {
  return {
    id: r.id,
    name: r.name,
    uuid: r.uuid,
    config: r.config,
    memoryMiB: r.memory_mib,
    vcpus: r.vcpus,
    disks: fromJson<DomainRecord["disks"]>(r.disks),
    vifs: fromJson<DomainRecord["vifs"]>(r.vifs),
    onPoweroff: r.on_poweroff as DomainRecord["onPoweroff"],
    onReboot: r.on_reboot as DomainRecord["onReboot"],
    onCrash: r.on_crash as DomainRecord["onCrash"],
    allowedUnsafe: fromJson<DomainRecord["allowedUnsafe"]>(r.allowed_unsafe),
    antiAffinity: r.anti_affinity,
    pinHosts: fromJson<DomainRecord["pinHosts"]>(r.pin_hosts),
    hostId: r.host_id,
    placed: r.placed === null ? null : fromJson<DomainRecord["placed"]>(r.placed),
    desiredState: r.desired_state as DomainRecord["desiredState"],
    stopMode: r.stop_mode as DomainRecord["stopMode"],
    shutdownTimeoutS: r.shutdown_timeout_s,
    rebootSeq: r.reboot_seq,
    observed: r.observed === null ? null : fromJson<DomainRecord["observed"]>(r.observed),
    ha: r.ha === null ? null : r.ha === 1,
    haPriority: r.ha_priority,
    generation: r.generation,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
  };
}
