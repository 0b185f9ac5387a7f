/**
 * Placement's access step: a compute host's SAN MACs are added to the volumes of a domain it runs
 * (a new volume generation the storage agent applies), and removed once the domain has stopped.
 * The rules are volume-access.ts; this file writes them to the store.
 */
import { EtherplaneError, isEtherplaneError } from "../../foundation/errors.js";
import type { DomainRecord, HostRecord, VolumeRecord } from "../model.js";
import type { Store } from "../store/store.js";
import {
  grantApplied,
  hostSanMacs,
  withGrant,
  withoutGrant,
  withoutHostGrant,
  withSecondGrant,
} from "./volume-access.js";

/** Tries of an optimistic update before giving up (another change raced each one). */
const UPDATE_TRIES_MAX = 5;

function volumeIds(domain: DomainRecord): string[] {
  return [...new Set(domain.disks.flatMap((d) => (d.volumeId === null ? [] : [d.volumeId])))];
}

export class VolumeGrants {
  constructor(private readonly store: Store) {}

  /**
   * Gives `host` access to every volume of `domain` (idempotent). `keep`: leave a grant the domain
   * has on this host as it is (its MACs are not re-read on every report).
   */
  async grant(domain: DomainRecord, host: HostRecord, keep = false): Promise<void> {
    const macs = hostSanMacs(host);
    for (const id of volumeIds(domain)) {
      await this.update(id, (volume) => {
        // This host's grant: during a migration the domain has a second one, on the other host.
        const had = volume.grants.find((g) => g.domainId === domain.id && g.hostId === host.id);
        if (had && (keep || had.macs.join() === macs.join())) return undefined;
        return withGrant(volume, { domainId: domain.id, hostId: host.id, macs });
      });
    }
  }

  /** Live migration: `host` reaches the volumes too, beside the host the domain runs on. */
  async grantSecond(domain: DomainRecord, host: HostRecord): Promise<void> {
    const macs = hostSanMacs(host);
    for (const id of volumeIds(domain)) {
      await this.update(id, (volume) => {
        const had = volume.grants.find((g) => g.domainId === domain.id && g.hostId === host.id);
        if (had && had.macs.join() === macs.join()) return undefined;
        return withSecondGrant(volume, { domainId: domain.id, hostId: host.id, macs });
      });
    }
  }

  /** Takes back `domain`'s grant on `hostId` only (a migration's other side). */
  async revokeHost(domain: DomainRecord, hostId: string): Promise<void> {
    for (const id of volumeIds(domain)) {
      await this.update(id, (volume) =>
        volume.grants.some((g) => g.domainId === domain.id && g.hostId === hostId)
          ? withoutHostGrant(volume, domain.id, hostId)
          : undefined,
      );
    }
  }

  /** Whether the storage agents serve every volume of `domain` as its record says now. */
  async settled(domain: DomainRecord): Promise<boolean> {
    for (const id of volumeIds(domain)) {
      const volume = await this.store.getVolume(id);
      if (volume && volume.appliedGeneration < volume.generation) return false;
    }
    return true;
  }

  /** Takes back what `domain` was granted on every volume it uses (idempotent). */
  async revoke(domain: DomainRecord): Promise<void> {
    for (const id of volumeIds(domain)) {
      await this.update(id, (volume) =>
        volume.grants.some((g) => g.domainId === domain.id)
          ? withoutGrant(volume, domain.id)
          : undefined,
      );
    }
  }

  /** Whether every volume of `domain` is served to `hostId` by now. */
  async applied(domain: DomainRecord, hostId: string): Promise<boolean> {
    for (const id of volumeIds(domain)) {
      const volume = await this.store.getVolume(id);
      if (volume && !grantApplied(volume, domain.id, hostId)) return false;
    }
    return true;
  }

  private async update(
    id: string,
    grants: (volume: VolumeRecord) => VolumeRecord["grants"] | undefined,
  ): Promise<void> {
    for (let tries = 1; ; tries++) {
      const volume = await this.store.getVolume(id);
      if (!volume) return; // gone: nothing to grant or take back
      const next = grants(volume);
      if (!next) return;
      try {
        await this.store.updateVolume(id, { grants: next }, volume.generation);
        return;
      } catch (error) {
        if (!isEtherplaneError(error, "CONFLICT")) throw error;
        if (tries >= UPDATE_TRIES_MAX)
          throw new EtherplaneError(
            "CONFLICT",
            `volume ${volume.name} kept changing while its access was being set; try again`,
            { cause: error },
          );
      }
    }
  }
}
