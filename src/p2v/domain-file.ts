/**
 * The domain file (xl.cfg) of the copied server: its name, memory and vCPUs, the volume as
 * `phy:/dev/etherd/eS.L`, a vif on the chosen network (the MAC is left to `domain import`, which
 * allocates one in 00:16:3e unique in the cluster), and direct kernel boot with the source's own
 * kernel from the host's boot directory, or firmware/pygrub boot from the volume. Pure.
 */
import { writeXlConfig } from "../domain/xl-cfg/index.js";
import type { XlValue } from "../domain/xl-cfg/types.js";
import type { P2vPlan } from "./plan.js";

export interface DomainFileInput {
  plan: Pick<P2vPlan, "name" | "memoryMiB" | "vcpus" | "network" | "consoleTty">;
  /** The volume's AoE address; undefined in a dry run (printed as eS.L). */
  address: { shelf: number; slot: number } | undefined;
  /** File names in the host's boot directory, or undefined for firmware/pygrub boot. */
  boot: { kernel: string; ramdisk: string | undefined } | undefined;
  hypervisor: "qemu" | "xen";
}

export function domainFile(input: DomainFileInput): string {
  const { plan, address, boot } = input;
  const device = address ? `e${address.shelf}.${address.slot}` : "eS.L";
  const settings: Array<{ key: string; value: XlValue }> = [
    { key: "name", value: plan.name },
    { key: "memory", value: plan.memoryMiB },
    { key: "vcpus", value: plan.vcpus },
    { key: "disk", value: [`phy:/dev/etherd/${device},xvda,w`] },
  ];
  if (plan.network !== undefined) {
    settings.push({ key: "vif", value: [`bridge=${plan.network}`] });
  }
  if (boot) {
    settings.push({ key: "kernel", value: boot.kernel });
    if (boot.ramdisk !== undefined) settings.push({ key: "ramdisk", value: boot.ramdisk });
    settings.push({ key: "root", value: "/dev/xvda ro" });
    settings.push({
      key: "extra",
      // net.ifnames=0: the new card is eth0 (network.ts renames the server's interface to it).
      value: `console=${plan.consoleTty} net.ifnames=0`,
    });
  } else if (input.hypervisor === "xen") {
    settings.push({ key: "bootloader", value: "pygrub" });
  }
  return `# made by etherplane p2v\n${writeXlConfig({ settings })}`;
}
