/**
 * What a domain's file defines and the control plane stores as it is: its fields, disks and
 * vifs. They live here, below the cluster, so that import (src/domain/import) builds them
 * without importing the cluster's records; src/cluster/model.ts's DomainRecord extends them.
 */
import type { LifecycleAction } from "./xl-cfg/fields.js";

/** A disk of a domain: its xl.cfg target, and the etherplane volume it is when it is one. */
export interface DomainDisk {
  vdev: string;
  /** The target as the domain file wrote it, e.g. /dev/xenimages/noc.grid. */
  target: string;
  readOnly: boolean;
  /** The volume this disk is; null for a path etherplane does not manage. */
  volumeId: string | null;
}

export interface DomainVif {
  mac: string;
  bridge: string;
}

/** The fields of a domain read from its file: import makes them, a DomainRecord holds them. */
export interface DomainFileFields {
  name: string;
  uuid: string;
  /** The domain file, xl.cfg syntax, as imported or edited (allocated MACs added). */
  config: string;
  /** Read from `config` when it was stored (the file stays the truth). */
  memoryMiB: number;
  vcpus: number;
  disks: DomainDisk[];
  vifs: DomainVif[];
  onPoweroff: LifecycleAction;
  onReboot: LifecycleAction;
  onCrash: LifecycleAction;
  /**
   * Keys of the domain policy's table (src/domain/policy) that an admin allowed in this file by
   * name; empty for almost every domain. The xen driver refuses any other refused key.
   */
  allowedUnsafe: string[];
}
