/**
 * Xen host lab: the real Xen 4.17 hypervisor from Debian, booted under QEMU/TCG (no KVM needed)
 * with a PV dom0 that runs from an initramfs, for tests that drive `xl` for real. Needs
 * qemu-system-x86, busybox-static, cpio and apt (for the first download); not root.
 *
 *   const result = await bootXenHost({ script: "xl info; xl list", timeoutMs: 60_000 });
 *   // result.exitCode, result.lines (script stdout), result.console, result.stages
 *
 * Pieces: packages.ts names and fetches the Debian packages; host-image.ts unpacks them, adds
 * the Debian kernel of the Linux guest lab (as raw vmlinux, with the Xen backend modules) and
 * caches the hypervisor and dom0 initramfs; dom0-init.ts writes dom0's `/init` (what xencommons
 * does, then the script); xen-host.ts boots QEMU. A cold cache downloads ~20 MB of packages (and
 * the ~70 MB kernel unless the Linux guest lab has it) and builds for ~25 s; later boots take
 * ~7 s from QEMU start to poweroff.
 */
export { bootXenHost, prepareXenHost, qemuXenArgs } from "./xen-host.js";
export type { XenHostOptions, XenHostResult } from "./xen-host.js";
export { dom0ModuleRoots, fetchXenHostImage, type XenHostImage } from "./host-image.js";
export { dom0Hostname } from "./dom0-init.js";
