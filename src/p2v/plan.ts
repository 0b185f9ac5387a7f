/**
 * The P2V plan from the source's facts and the flags: the volume's size (checked against the
 * used bytes plus a margin before anything is made), the file systems to copy, the file system
 * to make, the domain's memory, vCPUs, console and boot. `--dry-run` prints it. Pure.
 */
import { EtherplaneError } from "../foundation/errors.js";
import type { ConsoleTty } from "./console.js";
import type { SourceFacts } from "./inspect.js";
import { findKernel } from "./inspect.js";
import { chooseVlanNetwork, primaryVlan, type SourceVlan, type VlanNetwork } from "./vlan.js";
import { selectMounts, targetFsType, type Mount, type SkippedMount } from "./mounts.js";

const MIB = 1024 ** 2;
/** Room for the new file system's own metadata and the files written while the copy runs. */
export const MARGIN_FRACTION = 0.2;
export const MARGIN_BYTES_MIN = 256 * MIB;
/** A volume smaller than used bytes plus this is refused: the copy would fill it. */
export const MARGIN_FRACTION_MIN = 0.05;
export const MARGIN_BYTES_FLOOR = 32 * MIB;
const SIZE_ROUND_BYTES = 64 * MIB;
export const MEMORY_MIB_DEFAULT = 512;

export interface PlanOptions {
  name: string;
  sizeBytes?: number;
  memoryMiB?: number;
  vcpus?: number;
  network?: string;
  hypervisor: "qemu" | "xen";
  /** --keep-vlan: the vif goes on the network carrying the source's VLAN (vlan.ts). */
  keepVlan?: boolean;
  /** The cluster's networks, needed with keepVlan. */
  networks?: readonly VlanNetwork[];
}

export interface P2vPlan {
  name: string;
  usedBytes: number;
  sizeBytes: number;
  copy: Mount[];
  skip: SkippedMount[];
  fsType: "ext2" | "ext3" | "ext4" | "xfs";
  memoryMiB: number;
  vcpus: number;
  hostname: string;
  consoleTty: ConsoleTty;
  /** The source's kernel and initrd (paths in the copy), for direct kernel boot. */
  kernel: { kernel: string; initrd: string | undefined; version: string } | undefined;
  network: string | undefined;
  /** The VLAN of the source's default route, if any (kept on the vif with --keep-vlan). */
  vlan: SourceVlan | undefined;
  /** --keep-vlan: the vif is on the VLAN's network, the guest sees it untagged. */
  keepVlan: boolean;
  warnings: string[];
}

function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

export function minimumSizeBytes(usedBytes: number): number {
  return usedBytes + Math.max(usedBytes * MARGIN_FRACTION_MIN, MARGIN_BYTES_FLOOR);
}

export function planP2v(facts: SourceFacts, options: PlanOptions): P2vPlan {
  const { copy, skip } = selectMounts(facts.mounts);
  const warnings: string[] = [];
  let usedBytes = 0;
  for (const mount of copy) {
    const row = facts.df.find((r) => r.mountPoint === mount.mountPoint);
    if (!row) warnings.push(`df gave no used bytes for ${mount.mountPoint}; counted as 0`);
    usedBytes += row?.usedBytes ?? 0;
  }
  const minimum = minimumSizeBytes(usedBytes);
  const suggested = roundUp(
    usedBytes + Math.max(usedBytes * MARGIN_FRACTION, MARGIN_BYTES_MIN),
    SIZE_ROUND_BYTES,
  );
  const sizeBytes = options.sizeBytes ?? suggested;
  if (sizeBytes < minimum)
    throw new EtherplaneError(
      "OUT_OF_RANGE",
      `--size ${sizeBytes} bytes cannot hold the source's ${usedBytes} used bytes plus a margin ` +
        `(at least ${Math.ceil(minimum / MIB)} MiB): give --size ${Math.ceil(suggested / MIB)}M ` +
        "or leave --size out; nothing was created",
      { params: { usedBytes, sizeBytes, minimumBytes: minimum } },
    );
  const root = copy[0];
  if (!root) throw new EtherplaneError("INTERNAL", "selectMounts returned no root");
  const found = findKernel(facts);
  if (!found)
    warnings.push(
      `no kernel for ${facts.kernel} in the source's /boot: the domain boots with its firmware (qemu) or pygrub (xen)`,
    );
  if (options.memoryMiB === undefined && facts.memoryBytes === 0)
    warnings.push(`the source's memory is unknown; the domain gets ${MEMORY_MIB_DEFAULT} MiB`);
  const sourceMiB = Math.floor(facts.memoryBytes / MIB);
  const vlan = primaryVlan(facts.vlans, facts.primaryInterface);
  const network = options.keepVlan
    ? chooseVlanNetwork(vlan, options.networks ?? [], options.network, facts.primaryInterface)
    : options.network;
  if (vlan && !options.keepVlan)
    warnings.push(
      `the source's ${vlan.interface} is 802.1q VLAN ${vlan.id} on ${vlan.parent}: ` +
        `--keep-vlan puts the domain's vif on the network that carries it`,
    );
  return {
    name: options.name,
    usedBytes,
    sizeBytes,
    copy,
    skip,
    fsType: targetFsType(root),
    memoryMiB: options.memoryMiB ?? (sourceMiB > 0 ? sourceMiB : MEMORY_MIB_DEFAULT),
    vcpus: options.vcpus ?? facts.cpus,
    hostname: facts.hostname,
    consoleTty: options.hypervisor === "qemu" ? "ttyS0" : "hvc0",
    kernel: found ? { ...found, version: facts.kernel } : undefined,
    network,
    vlan,
    keepVlan: options.keepVlan === true,
    warnings,
  };
}
