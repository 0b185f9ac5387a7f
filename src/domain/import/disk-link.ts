/**
 * Which etherplane volume a domain file's disk target is. A Xen dom0 sees AoE volumes as
 * /dev/etherd/eS.L (the aoe driver's names, drivers/block/aoe/aoeblk.c), so such a path is the
 * volume at that address. Old files name their disks by path (e.g. the seed's
 * /dev/xenimages/noc.grid, a logical volume): a volume of the same name as the path's last
 * component is that disk, moved onto the SAN. Pure.
 */
import { readEtherdPath } from "../../aoe/codec/address.js";

export interface VolumeRef {
  id: string;
  name: string;
  shelf: number;
  slot: number;
}

export interface DiskLink {
  volume: VolumeRef;
  how: "by AoE address" | "by name";
}

export function linkDisk(target: string, volumes: readonly VolumeRef[]): DiskLink | undefined {
  const address = readEtherdPath(target);
  if (address) {
    const { shelf, slot } = address;
    const volume = volumes.find((v) => v.shelf === shelf && v.slot === slot);
    return volume ? { volume, how: "by AoE address" } : undefined;
  }
  const name = target.split("/").filter(Boolean).pop();
  if (name === undefined) return undefined;
  const volume = volumes.find((v) => v.name === name);
  return volume ? { volume, how: "by name" } : undefined;
}
