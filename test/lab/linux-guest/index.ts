/**
 * Linux AoE guest lab: the real Linux AoE initiator (Debian's kernel and `aoe.ko`) under
 * QEMU/TCG, for interoperability tests of AoE targets. Needs root, /dev/net/tun, apt (for the
 * first kernel download) and the packages of scripts/install.sh.
 *
 *   const net = new TestNet("demo");
 *   try {
 *     const topo = await createGuestNetwork(net, { mtu: 9000 });
 *     // start a target on topo.targetIf inside topo.targetNs, serving e1.0, then:
 *     const result = await bootLinuxAoeGuest({ net, ...topo, device: "e1.0",
 *       script: 'dd if="$EP_DISK" bs=512 count=1 iflag=direct | md5sum' });
 *     // result.exitCode, result.lines (script stdout), result.console, result.stages
 *   } finally {
 *     await net.close();
 *   }
 *
 * Pieces: kernel.ts fetches and caches the kernel and modules; initramfs.ts builds the cached
 * busybox initramfs and the per-boot overlay; guest-init.ts writes `/init` and defines the
 * console protocol that guest-console.ts parses; qemu-guest.ts boots and bounds QEMU;
 * guest-network.ts builds the target <-veth-> bridge topology. The cache lives in
 * $ETHERPLANE_CACHE or /var/cache/etherplane (cache.ts): a first run downloads ~70 MB and takes
 * a few seconds more; later runs only boot.
 */
export { bootLinuxAoeGuest, prepareLinuxGuest } from "./qemu-guest.js";
export type { LinuxAoeGuestOptions, LinuxAoeGuestResult } from "./qemu-guest.js";
export { createGuestNetwork, type GuestNetwork } from "./guest-network.js";
export type { GuestStage } from "./guest-console.js";
export type { InitramfsFile } from "./initramfs.js";
export { fetchGuestKernel, type GuestKernel } from "./kernel.js";
