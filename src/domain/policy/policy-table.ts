/**
 * The domain policy as data: xl.cfg keys (xl.cfg(5), Xen 4.17) that run programs in dom0, read
 * or write host files, or hand host hardware or host-side listeners to a guest. One row per key
 * (or key family), its rule and why. Keys not in the table are not the policy's business: they
 * stay in the file as written. The first row that matches a key decides it, so exact keys come
 * before the prefix or suffix rows that would also match them.
 *
 * Only an admin may allow a refused key, by naming it (`--allow-unsafe KEY`); see domain-policy.ts.
 */

export type KeyMatch =
  | { exact: string }
  /** Every key starting with it: `device_model` covers device_model_args_hvm. */
  | { prefix: string }
  /** Every key ending with it: `_script`, `seclabel`. */
  | { suffix: string };

export type PolicyRule =
  /** Any value is refused. */
  | { kind: "never" }
  /** Each value (or each item of a list) must be one of these texts. */
  | { kind: "oneOf"; values: readonly string[] }
  /** An approved boot loader (PolicyOptions.approvedBootloaders, `pygrub` by default). */
  | { kind: "bootloader" }
  /** A listen address on the loopback interface: 127.0.0.0/8, ::1, localhost (optional :N). */
  | { kind: "loopback" }
  /** A true value needs `key` set to a loopback address (spice listens everywhere otherwise). */
  | { kind: "needsLoopback"; key: string }
  /** Items of a spec list (`'k=v,k=v'`) must not have these keys; `loopback` keys must be loopback. */
  | {
      kind: "items";
      spec: "vif" | "disk" | "plain";
      refused: readonly string[];
      loopback?: readonly string[];
    };

export interface PolicyRow {
  match: KeyMatch;
  rule: PolicyRule;
  /** Why, in a phrase that completes "refused: ...". */
  reason: string;
}

const never = { kind: "never" } as const;

export const POLICY_TABLE: readonly PolicyRow[] = [
  // Programs run in dom0 as root.
  {
    match: { exact: "bootloader" },
    rule: { kind: "bootloader" },
    reason: "the boot loader runs in dom0 as root; only the approved ones (pygrub) may be named",
  },
  {
    match: { exact: "bootloader_args" },
    rule: never,
    reason: "arguments to dom0's boot loader (pygrub's --output writes any host file)",
  },
  {
    match: { exact: "device_model_version" },
    rule: { kind: "oneOf", values: ["qemu-xen"] },
    reason: "qemu-xen-traditional is unmaintained and runs without a sandbox",
  },
  {
    match: { prefix: "device_model" },
    rule: never,
    reason:
      "chooses, or passes arguments to, the QEMU that dom0 runs for the guest " +
      '(device_model_args_hvm = ["-monitor", ...] opens a root monitor)',
  },
  {
    match: { exact: "dm_restrict" },
    rule: { kind: "oneOf", values: ["1"] },
    reason: "dm_restrict = 0 runs the guest's QEMU as root, outside its sandbox",
  },
  {
    match: { suffix: "_script" },
    rule: never,
    reason: "names a program dom0 runs as root",
  },
  // Host hardware handed to the guest.
  {
    match: { prefix: "pci" },
    rule: never,
    reason: "passes a host PCI device through to the guest",
  },
  { match: { exact: "rdm" }, rule: never, reason: "reserves host memory regions for passthrough" },
  { match: { exact: "ioports" }, rule: never, reason: "gives the guest host I/O ports" },
  { match: { exact: "iomem" }, rule: never, reason: "maps host machine memory into the guest" },
  { match: { exact: "irqs" }, rule: never, reason: "gives the guest host interrupts" },
  { match: { exact: "dtdev" }, rule: never, reason: "passes a host device tree node through" },
  { match: { exact: "e820_host" }, rule: never, reason: "shows the guest the host's memory map" },
  {
    match: { exact: "gfx_passthru" },
    rule: never,
    reason: "passes the host's graphics card through to the guest",
  },
  {
    match: { exact: "driver_domain" },
    rule: never,
    reason: "makes the guest a driver domain with rights over other guests' devices",
  },
  {
    match: { exact: "usb" },
    rule: { kind: "oneOf", values: ["0", "1"] },
    reason: "usb is 0 or 1 (an emulated controller)",
  },
  {
    match: { exact: "usbversion" },
    rule: { kind: "oneOf", values: ["1", "2", "3"] },
    reason: "usbversion is 1, 2 or 3",
  },
  {
    match: { exact: "usbdevice" },
    rule: { kind: "oneOf", values: ["tablet", "mouse", "keyboard"] },
    reason:
      "only emulated USB devices (tablet, mouse, keyboard); host:... hands a host device over",
  },
  {
    match: { prefix: "usb" },
    rule: never,
    reason: "hands host USB devices or controllers to the guest",
  },
  // Host files read or written.
  { match: { exact: "acpi_firmware" }, rule: never, reason: "loads a host file into the guest" },
  { match: { exact: "smbios_firmware" }, rule: never, reason: "loads a host file into the guest" },
  {
    match: { exact: "firmware" },
    rule: { kind: "oneOf", values: ["bios", "uefi", "seabios", "rombios", "ovmf", "pvh"] },
    reason: "a firmware path loads a host file into the guest; name a firmware type (bios, uefi)",
  },
  { match: { exact: "firmware_override" }, rule: never, reason: "loads a host file as firmware" },
  { match: { exact: "bios_path_override" }, rule: never, reason: "loads a host file as BIOS" },
  { match: { exact: "device_tree" }, rule: never, reason: "loads a host file into the guest" },
  { match: { exact: "pvshim_path" }, rule: never, reason: "loads a host file as the PV shim" },
  { match: { exact: "stubdomain_kernel" }, rule: never, reason: "loads a host file as kernel" },
  { match: { exact: "stubdomain_ramdisk" }, rule: never, reason: "loads a host file as ramdisk" },
  { match: { exact: "xauthority" }, rule: never, reason: "reads a host file (X credentials)" },
  {
    match: { exact: "serial" },
    rule: { kind: "oneOf", values: ["pty", "none", "null", "vc"] },
    reason: "file:, pipe:, unix:, tcp: and dev serial ports open host files or listeners as root",
  },
  {
    match: { exact: "p9" },
    rule: never,
    reason: "shares a host directory with the guest",
  },
  {
    match: { exact: "channel" },
    rule: { kind: "items", spec: "plain", refused: ["path", "backend"] },
    reason:
      "a channel's path= is a host socket dom0 creates as root; backend= names another domain",
  },
  // Listeners off the loopback interface.
  {
    match: { exact: "vfb" },
    rule: {
      kind: "items",
      spec: "plain",
      refused: ["xauthority", "display", "backend"],
      loopback: ["vnclisten"],
    },
    reason: "a framebuffer listens on loopback only (vnclisten=127.0.0.1) and reads no host file",
  },
  {
    match: { exact: "vnclisten" },
    rule: { kind: "loopback" },
    reason: "VNC listens on loopback only; reach it through an SSH tunnel",
  },
  {
    match: { exact: "spicehost" },
    rule: { kind: "loopback" },
    reason: "SPICE listens on loopback only; reach it through an SSH tunnel",
  },
  {
    match: { exact: "spice" },
    rule: { kind: "needsLoopback", key: "spicehost" },
    reason: 'without spicehost = "127.0.0.1", SPICE listens on every host interface',
  },
  // Security labels and CPU features.
  {
    match: { suffix: "seclabel" },
    rule: never,
    reason: "sets the guest's XSM/FLASK security label (its rights over the hypervisor)",
  },
  {
    match: { exact: "cpuid" },
    rule: never,
    reason: "overrides the CPU features the guest sees (hides mitigations)",
  },
  // Devices whose backend runs in dom0: what dom0 runs for them.
  {
    match: { exact: "vif" },
    rule: { kind: "items", spec: "vif", refused: ["script", "backend", "vifname"] },
    reason:
      "script= runs a dom0 program as root, backend= hands the vif to another domain, " +
      "vifname= renames a host interface",
  },
  {
    match: { exact: "disk" },
    rule: { kind: "items", spec: "disk", refused: ["script", "backend"] },
    reason:
      "script= (and the iscsi:, nbd:, drbd: prefixes) runs a dom0 program as root, backend= " +
      "hands the disk to another domain; a disk is an etherplane volume (its AoE device)",
  },
  ...["vtpm", "vkb", "vdispl", "vsnd", "pvcalls", "virtio"].map((key) => ({
    match: { exact: key },
    rule: { kind: "items", spec: "plain", refused: ["backend"] } as const,
    reason: "backend= hands the device to another domain",
  })),
];

/** The table row deciding `key`, if any. */
export function policyRowFor(key: string): PolicyRow | undefined {
  return POLICY_TABLE.find(({ match }) =>
    "exact" in match
      ? key === match.exact
      : "prefix" in match
        ? key.startsWith(match.prefix)
        : key.endsWith(match.suffix),
  );
}

/** How a row's key reads in documents: `pci*`, `*_script`, `vif`. */
export function keyPattern(match: KeyMatch): string {
  if ("exact" in match) return match.exact;
  if ("prefix" in match) return `${match.prefix}*`;
  return `*${match.suffix}`;
}
