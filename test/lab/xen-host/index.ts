/**
 * Xen host lab: the real Xen 4.17 hypervisor from Debian, booted under QEMU/TCG (no KVM needed)
 * with a PV dom0 that runs from an initramfs, for tests that drive `xl` for real. Needs root,
 * qemu-system-x86, busybox-static, cpio and apt (for the first download).
 *
 * One shot: boot, run a script, power off.
 *   const result = await bootXenHost({ script: "xl info; xl list", timeoutMs: 60_000 });
 *   // result.exitCode, result.lines (script stdout), result.console, result.stages
 *
 * A session: dom0 stays up; commands through `exec`/`run` while the test talks to it.
 *   const host = await startXenHost({ net, network: { bridgeNs, bridge: "br0",
 *     address: "10.77.0.50/24", guestBridge: "xenbr0" }, aoe: { waitFor: ["e1.0"] },
 *     node: true, project: true });
 *   const { code, stdout, stderr } = await host.exec("xl list");
 *   await host.close();
 *
 * Both take the options of host-config.ts: `network` (virtio-net NICs on taps in the caller's
 * bridge namespace: eth0 with an optional dom0 bridge for vifs and an address, `moreNics` for
 * eth1...; host-network.ts), `aoe` (aoe.ko), `copies` (a read-only ext4 disk: `node` puts this
 * Node.js at /usr/local/bin/node, `project` the repository's runtime files at its own path),
 * `shares` (virtio-9p, live but slow), memory, cpus and dom0Vcpus (1 by default).
 * guest-initrd.ts builds a tiny PV guest's initramfs and names the kernel for `xl create`.
 *
 * Pieces: packages.ts names and fetches the Debian packages; host-image.ts unpacks them, adds
 * the Debian kernel of the Linux guest lab (as raw vmlinux, with the modules dom0 and PV guests
 * need) and caches the hypervisor and dom0 initramfs; dom0-init.ts writes dom0's `/init`;
 * exec-channel.ts the session's command protocol and dom0's exec server; copy-disk.ts the copy
 * disk; host-config.ts and host-network.ts plan a boot; host-launch.ts starts QEMU; xen-host.ts and xen-session.ts are the two ways to run it. A cold cache downloads
 * ~25 MB of packages (and the ~70 MB kernel unless the Linux guest lab has it) and builds for
 * ~25 s.
 */
export { bootXenHost } from "./xen-host.js";
export type { XenHostOptions, XenHostResult } from "./xen-host.js";
export { startXenHost } from "./xen-session.js";
export type { XenExecOptions, XenHostSession, XenSessionOptions } from "./xen-session.js";
export type { ExecResult } from "./exec-channel.js";
export {
  dom0NodePath,
  dom0ProjectPath,
  dom0ProjectRoot,
  type XenHostAoeOptions,
  type XenHostCommonOptions,
  type XenHostCopy,
  type XenHostNetworkOptions,
  type XenHostNicOptions,
  type XenHostShare,
} from "./host-config.js";
export { qemuXenArgs } from "./host-launch.js";
export {
  dom0ModuleRoots,
  fetchXenHostImage,
  prepareXenHost,
  pvGuestModuleRoots,
  type XenHostImage,
} from "./host-image.js";
export { dom0Hostname } from "./dom0-init.js";
export {
  buildPvGuestInitrd,
  guestMarkPrefix,
  pvGuestKernel,
  type PvGuestInitrdOptions,
  type PvGuestKernel,
} from "./guest-initrd.js";
