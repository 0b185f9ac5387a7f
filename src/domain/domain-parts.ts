/**
 * The parts of a domain that its file defines and the control plane stores as they are: disks
 * and vifs. They live here, below the cluster, so that import (src/domain/import) builds them
 * without importing the cluster's records; src/cluster/model.ts re-exports them.
 */

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
