/**
 * Domain guest lab: a Linux guest for hypervisor driver tests and end-to-end tests, booted the
 * way a Xen PV guest is (kernel + initrd + command line from the host), under QEMU or Xen.
 *
 *   const { kernel, initrd } = await domainGuestKit();
 *   // GuestBoot: { kind: "kernel", kernel, ramdisk: initrd, cmdline: "console=ttyS0" }
 *   //   no root=: the guest runs the console guest from its initramfs;
 *   //   root=/dev/vda rw: it mounts that disk and runs its /sbin/init, e.g. an image from
 *   await buildRootFsImage({ path, sizeMiB: 64, initScript: "echo hi > /marker; sync; poweroff -f" });
 *
 * The console guest protocol (ready line, commands) is in src/hypervisor/fake/console-guest.ts;
 * `ep_hostname=NAME` on the command line names the guest. Pieces: kit.ts (kernel and cached
 * initrd), initrd-init.ts (the initrd's /init), rootfs-image.ts (ext4 root images),
 * guest-files.ts (busybox init, console guest and power button, shared by both).
 */
export { domainGuestKit, domainGuestModuleRoots, type DomainGuestKit } from "./kit.js";
export { buildRootFsImage, type RootFsImageOptions } from "./rootfs-image.js";
export { guestFailPrefix } from "./initrd-init.js";
