/**
 * `--boot volume`: the copy boots from its own volume, so the compute host that starts it needs
 * nothing of the source (no kernel in its boot directory). P2V writes an extlinux configuration
 * naming the source's kernel and initrd (in the copy's /boot) and installs extlinux's boot
 * sector into the copy's file system (local-tools.ts). Under the qemu driver the guest's
 * firmware (SeaBIOS) boots the volume's first sector, extlinux's: the volume is one file system
 * without a partition table, which extlinux supports (syslinux's doc/extlinux.txt); under Xen,
 * pygrub reads the same file (pygrub's ExtLinuxConf). The kernel line names the root file
 * system by UUID, which is right under either driver (vda or xvda). Pure.
 */
import type { CopyEdit } from "./edits.js";
import type { P2vPlan } from "./plan.js";

/** Where extlinux and its configuration live in the copy (also where pygrub looks). */
export const EXTLINUX_DIR = "/boot/extlinux";
export const EXTLINUX_CONF = `${EXTLINUX_DIR}/extlinux.conf`;

export type BootFrom = "host" | "volume";

export function extlinuxConfEdit(
  plan: Pick<P2vPlan, "kernel" | "consoleTty" | "name">,
  uuid: string,
): CopyEdit | undefined {
  if (!plan.kernel) return undefined;
  const lines = [
    "# made by etherplane p2v: the domain boots this from its own volume",
    // extlinux's own messages on the serial console too (syslinux doc/syslinux.txt: SERIAL port baud).
    ...(plan.consoleTty === "ttyS0" ? ["SERIAL 0 115200"] : []),
    "DEFAULT p2v",
    "PROMPT 0",
    "TIMEOUT 0",
    "LABEL p2v",
    `  KERNEL ${plan.kernel.kernel}`,
    ...(plan.kernel.initrd ? [`  INITRD ${plan.kernel.initrd}`] : []),
    // net.ifnames=0: the new card is eth0 (network.ts), as on the direct kernel boot.
    `  APPEND root=UUID=${uuid} ro console=${plan.consoleTty} net.ifnames=0`,
    "",
  ];
  return {
    kind: "write",
    path: EXTLINUX_CONF,
    text: lines.join("\n"),
    change: `boot: ${EXTLINUX_CONF} boots ${plan.kernel.kernel} from the volume (extlinux, pygrub)`,
  };
}
