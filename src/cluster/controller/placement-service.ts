/**
 * Placement with the store's records: gathers what the pure rules (placement.ts) read, for a
 * start, a dry run (`etherplane place`), a migration without a host and an evacuation.
 */
import type { DomainRecord, HostRecord, HostState, VolumeRecord } from "../model.js";
import type { Store } from "../store/store.js";
import type { ClusterSettings } from "./cluster-settings.js";
import {
  placeDomain,
  planPlacement,
  type PlacementInput,
  type PlacementPlan,
} from "./placement.js";

export interface PlacementOptions {
  /** Hosts not to consider, each with why (the host the domain moves away from). */
  exclude?: ReadonlyMap<string, string>;
  /** Instead of the stored list: the domains as a plan of several moves would leave them. */
  domains?: readonly DomainRecord[];
}

export class PlacementService {
  /** The controller's view of each host (failover.ts sets it): only `up` hosts get domains. */
  hostState: (hostId: string) => HostState = () => "up";

  constructor(
    private readonly store: Store,
    private readonly settings: ClusterSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async input(domain: DomainRecord, options: PlacementOptions = {}): Promise<PlacementInput> {
    const volumes = new Map<string, VolumeRecord>();
    for (const disk of domain.disks) {
      if (disk.volumeId === null) continue;
      const volume = await this.store.getVolume(disk.volumeId);
      if (volume) volumes.set(volume.id, volume);
    }
    return {
      domain,
      hosts: await this.store.listHosts(),
      domains: options.domains ?? (await this.store.listDomains()),
      networks: await this.store.listNetworks(),
      volumes,
      nowMs: this.now(),
      settings: await this.settings.placement(),
      hostState: this.hostState,
      ...(options.exclude ? { exclude: options.exclude } : {}),
    };
  }

  async plan(domain: DomainRecord, options: PlacementOptions = {}): Promise<PlacementPlan> {
    return planPlacement(await this.input(domain, options));
  }

  /** The host to run on (the named one, checked), with why; CONFLICT when none fits. */
  async choose(
    domain: DomainRecord,
    hostRef?: string,
    options: PlacementOptions = {},
  ): Promise<{ host: HostRecord; reason: string }> {
    const input = await this.input(domain, options);
    const host = placeDomain(input, hostRef);
    return {
      host,
      reason:
        hostRef === undefined ? planPlacement(input).reason : `${host.name}: named by the caller`,
    };
  }
}
