/**
 * The spec that was checked is the spec that runs. A `start` freezes the domain as it checked
 * it (placedSpec); the desired state handed to its host is built from that frozen spec alone
 * (desiredDomain), so a restart by on_reboot/on_crash, a guest that vanished or a restarted agent
 * runs what the start checked, never the file as edited since. Pure.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { storedDomainBoot } from "../../domain/import/domain-import.js";
import { checkDomainPolicy } from "../../domain/policy/index.js";
import { parseXlConfig } from "../../domain/xl-cfg/index.js";
import type { DesiredDomain } from "../agent-protocol.js";
import { haEnabled } from "./ha-policy.js";
import type { DomainPlacedSpec, DomainRecord, PlacedDisk, VolumeRecord } from "../model.js";

/**
 * The domain as a start runs it. Called after placement's checks (placement.ts diskProblem:
 * every disk is a ready, exported volume); a disk that is still no volume here is refused all
 * the same, so no host path can be frozen.
 */
export function placedSpec(
  domain: DomainRecord,
  volumes: ReadonlyMap<string, VolumeRecord>,
  nowMs: number,
): DomainPlacedSpec {
  const disks: PlacedDisk[] = domain.disks.map((disk) => {
    const volume = disk.volumeId === null ? undefined : volumes.get(disk.volumeId);
    if (!volume)
      throw new EtherplaneError(
        "CONFLICT",
        `disk ${disk.vdev}: ${disk.target} is not an etherplane volume; a domain's disks are volumes (etherplane domain edit ${domain.name})`,
        { params: { field: "disk" } },
      );
    return {
      ...{ vdev: disk.vdev, readOnly: disk.readOnly, volumeId: volume.id },
      ...{ shelf: volume.shelf, slot: volume.slot },
    };
  });
  // The policy again (import and edit enforced it): only keys an admin allowed may run.
  const refused = checkDomainPolicy(parseXlConfig(domain.config, domain.name)).filter(
    (finding) => !domain.allowedUnsafe.includes(finding.key),
  );
  if (refused.length > 0)
    throw new EtherplaneError(
      "FORBIDDEN",
      `${domain.name}: line ${refused[0]?.line}: \`${refused[0]?.key}\` is refused by the domain policy and no admin allowed it (etherplane domain edit ${domain.name})`,
      { params: { field: "config" } },
    );
  return {
    name: domain.name,
    uuid: domain.uuid,
    config: domain.config,
    memoryMiB: domain.memoryMiB,
    vcpus: domain.vcpus,
    // Read again from the stored file: a file that no longer reads does not start.
    boot: storedDomainBoot(domain.config, domain.name),
    disks,
    vifs: domain.vifs.map((vif) => ({ ...vif })),
    onPoweroff: domain.onPoweroff,
    onReboot: domain.onReboot,
    onCrash: domain.onCrash,
    allowedUnsafe: [...domain.allowedUnsafe],
    placedMs: nowMs,
  };
}

/** What the host must do about the domain: its frozen spec and the lifecycle fields. */
export function desiredDomain(domain: DomainRecord, placed: DomainPlacedSpec): DesiredDomain {
  return {
    id: domain.id,
    name: placed.name,
    uuid: placed.uuid,
    config: placed.config,
    memoryMiB: placed.memoryMiB,
    vcpus: placed.vcpus,
    boot: placed.boot,
    disks: placed.disks.map(({ vdev, readOnly, shelf, slot }) => ({
      ...{ vdev, readOnly, kind: "aoe" as const, shelf, slot },
    })),
    vifs: placed.vifs,
    onPoweroff: placed.onPoweroff,
    onReboot: placed.onReboot,
    onCrash: placed.onCrash,
    // A spec frozen before the policy existed allowed nothing.
    allowedUnsafe: placed.allowedUnsafe ?? [],
    desiredState: domain.desiredState,
    stopMode: domain.stopMode,
    shutdownTimeoutS: domain.shutdownTimeoutS,
    rebootSeq: domain.rebootSeq,
    generation: domain.generation,
    ha: haEnabled(domain),
  };
}
