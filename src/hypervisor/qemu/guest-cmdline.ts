/**
 * The guest's view of its disks under QEMU. Every disk is a virtio-blk PCI device, in the order
 * of the spec, so the guest's Linux names them vda, vdb, ... (drivers/block/virtio_blk.c
 * virtblk_name_format: a..z, aa..zz like sd). A domain written for Xen names its disks by the
 * vdev the PV frontend shows (`root=/dev/xvda1` with vdev `xvda`, or `root=/dev/sda1` with a
 * whole-disk vdev `sda1`): those names do not exist under QEMU, so `root=/dev/<vdev>[N]` is
 * rewritten to the virtio name of that disk (partition number kept). Other forms (LABEL=, UUID=,
 * a device not among the disks) are left alone.
 */
import type { GuestDisk } from "../driver.js";

/** The Linux name of the virtio disk at `index` (0 -> vda, 25 -> vdz, 26 -> vdaa). */
export function virtioDiskName(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= 26 * 27) {
    throw new RangeError(`disk index ${index}`);
  }
  const letter = (n: number) => String.fromCharCode(0x61 + n);
  return index < 26
    ? `vd${letter(index)}`
    : `vd${letter(Math.floor(index / 26) - 1)}${letter(index % 26)}`;
}

/** `/dev/<vdev>` or `/dev/<vdev><partition>` of one of `disks`, as the guest sees it here. */
export function guestDevicePath(device: string, disks: readonly GuestDisk[]): string | undefined {
  const match = /^\/dev\/([a-z][a-z0-9]*)$/.exec(device);
  if (!match?.[1]) return undefined;
  const name = match[1];
  // An exact vdev first: `sda1` is a whole disk in xl terms even though it ends in a digit.
  const exact = disks.findIndex((disk) => disk.vdev === name);
  if (exact >= 0) return `/dev/${virtioDiskName(exact)}`;
  for (const [index, disk] of disks.entries()) {
    if (/\d$/.test(disk.vdev)) continue; // `sda1` + `2` is no partition name
    const partition = name.startsWith(disk.vdev) ? name.slice(disk.vdev.length) : "";
    if (/^[1-9]\d{0,2}$/.test(partition)) return `/dev/${virtioDiskName(index)}${partition}`;
  }
  return undefined;
}

/** `cmdline` with each `root=/dev/<vdev>...` naming one of `disks` pointed at its virtio name. */
export function rewriteRootDevice(cmdline: string, disks: readonly GuestDisk[]): string {
  return cmdline
    .split(" ")
    .map((word) => {
      if (!word.startsWith("root=")) return word;
      const device = guestDevicePath(word.slice("root=".length), disks);
      return device === undefined ? word : `root=${device}`;
    })
    .join(" ");
}
