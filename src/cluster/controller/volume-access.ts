/**
 * Who may reach a volume over AoE, as pure functions over the records. A volume is closed by
 * default: it is seen only by the MACs an admin allowed (`allow`), by the compute hosts that run
 * its domains (`grants`, added at placement, removed when the domain stops), or by everyone when
 * an admin opened it (`allowEveryone`).
 *
 * An AoE MAC mask list that is empty lets everyone in (AoEr11 3.3, vblade's `maskok`), so "nobody"
 * cannot be an empty list on the wire: the storage agent does not export a closed volume at all
 * (reconciler.ts), which also holds across a target restart, since the target only serves what
 * the agent hands it.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { MASK_MACS_MAX } from "../../aoe/target/config.js";
import type { HostRecord, VolumeGrant, VolumeRecord } from "../model.js";

/** At most this many MACs of one host go into a grant (a host's SAN NICs, not its taps). */
export const HOST_SAN_MACS_MAX = 16;

type Access = Pick<VolumeRecord, "allow" | "allowEveryone" | "grants">;

/** What the target must be told: everyone, or exactly these MACs (none = do not export). */
export type VolumeMask = { everyone: true } | { everyone: false; macs: string[] };

export function volumeMask(volume: Access): VolumeMask {
  if (volume.allowEveryone) return { everyone: true };
  const macs = [...new Set([...volume.allow, ...volume.grants.flatMap((g) => g.macs)])];
  return { everyone: false, macs };
}

/** What `volume list` shows in its ACCESS column. */
export function describeAccess(volume: Access & Pick<VolumeRecord, "exported">): string {
  if (!volume.exported) return "not exported";
  const mask = volumeMask(volume);
  if (mask.everyone) return "everyone";
  return mask.macs.length === 0 ? "nobody" : mask.macs.join(",");
}

/**
 * The MACs a host reaches the SAN from: those of the interfaces its agent names as SAN
 * interfaces, else every interface it reported (a dom0 whose kernel `aoe` module may use any).
 */
export function hostSanMacs(host: HostRecord): string[] {
  const interfaces = host.inventory?.interfaces ?? [];
  const named = host.inventory?.sanInterfaces ?? [];
  const chosen = named.length > 0 ? interfaces.filter((i) => named.includes(i.ifname)) : interfaces;
  const macs = [...new Set(chosen.map((i) => i.mac.toLowerCase()))].filter(
    (mac) => mac !== "00:00:00:00:00:00",
  );
  if (macs.length === 0)
    throw new EtherplaneError(
      "UNAVAILABLE",
      `host ${host.name} has not reported the MACs of its SAN interfaces; wait for its agent, or check its --san-iface`,
    );
  return macs.slice(0, HOST_SAN_MACS_MAX);
}

/** The grants after `domainId` runs on `hostId` (any grant it had elsewhere is replaced). */
export function withGrant(
  volume: Access & Pick<VolumeRecord, "name" | "generation">,
  grant: Omit<VolumeGrant, "generation">,
): VolumeGrant[] {
  const grants = [
    ...volume.grants.filter((g) => g.domainId !== grant.domainId),
    { ...grant, generation: volume.generation + 1 },
  ];
  const mask = volumeMask({ ...volume, grants });
  if (!mask.everyone && mask.macs.length > MASK_MACS_MAX)
    throw new EtherplaneError(
      "CONFLICT",
      `volume ${volume.name} would allow ${mask.macs.length} MACs, more than an AoE mask list holds (${MASK_MACS_MAX}); remove some with etherplane volume deny ${volume.name} MAC`,
    );
  return grants;
}

/**
 * The grants while `domainId` moves to `grant.hostId` (live migration): the grant it has on its
 * current host stays, so both hosts reach the volume during the handover.
 */
export function withSecondGrant(
  volume: Access & Pick<VolumeRecord, "name" | "generation">,
  grant: Omit<VolumeGrant, "generation">,
): VolumeGrant[] {
  const others = volume.grants.filter(
    (g) => !(g.domainId === grant.domainId && g.hostId === grant.hostId),
  );
  const grants = [...others, { ...grant, generation: volume.generation + 1 }];
  const mask = volumeMask({ ...volume, grants });
  if (!mask.everyone && mask.macs.length > MASK_MACS_MAX)
    throw new EtherplaneError(
      "CONFLICT",
      `volume ${volume.name} would allow ${mask.macs.length} MACs during the migration, more than an AoE mask list holds (${MASK_MACS_MAX}); remove some with etherplane volume deny ${volume.name} MAC`,
    );
  return grants;
}

/** The grants once `domainId` no longer runs on `hostId` (the other side of a migration). */
export function withoutHostGrant(volume: Access, domainId: string, hostId: string): VolumeGrant[] {
  return volume.grants.filter((g) => !(g.domainId === domainId && g.hostId === hostId));
}

/** The grants once `domainId` no longer runs anywhere. */
export function withoutGrant(volume: Access, domainId: string): VolumeGrant[] {
  return volume.grants.filter((g) => g.domainId !== domainId);
}

/**
 * Whether the storage host's target already applied `domainId`'s grant on `hostId` (so a guest
 * there can reach the volume). A volume open to everyone, or whose admin list already holds all
 * the host's MACs, still waits for its grant: one rule, and the grant outlives a later `deny`.
 */
export function grantApplied(
  volume: Pick<VolumeRecord, "grants" | "appliedGeneration">,
  domainId: string,
  hostId: string,
): boolean {
  const grant = volume.grants.find((g) => g.domainId === domainId && g.hostId === hostId);
  return grant !== undefined && volume.appliedGeneration >= grant.generation;
}
