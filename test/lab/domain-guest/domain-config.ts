/**
 * The domain file of a guest that boots the domain guest kit's kernel and initrd with its root on
 * an AoE volume, in the seed's style: one vif on the bridge, a phy: disk on /dev/etherd, the
 * console on ttyS0 and `ep_hostname` naming the guest; the on_* lines are the caller's.
 */
export interface DomainConfigOptions {
  name: string;
  /** Paths as the compute host's agent resolves them (absolute, or relative to its boot dir). */
  kernel: string;
  ramdisk: string;
  memoryMiB: number;
  /** The volume's AoE device, eS.L. */
  device: string;
  bridge: string;
  /** Lines such as `on_crash = 'restart'`, as they are. */
  actions: readonly string[];
}

export function domainConfig(options: DomainConfigOptions): string {
  return [
    `name = "${options.name}"`,
    `kernel = "${options.kernel}"`,
    `ramdisk = "${options.ramdisk}"`,
    `memory = ${options.memoryMiB}`,
    `vif = [ 'bridge=${options.bridge}' ]`,
    `disk = [ 'phy:/dev/etherd/${options.device},xvda,w' ]`,
    'root = "/dev/xvda rw"',
    `extra = "console=ttyS0 ep_hostname=${options.name}"`,
    ...options.actions,
    "",
  ].join("\n");
}
