/**
 * The xl.cfg text the xen driver hands to `xl create`, from a GuestSpec. It starts from the
 * administrator's own file (`spec.xlConfig`) so that keys etherplane does not model (cpus,
 * pool, on_soft_reset, device_model_*, ...) keep working, then makes the spec authoritative for
 * what the agent decides: identity, size, boot, disks, networks, and lifecycle actions.
 *
 * on_poweroff/on_reboot/on_crash/on_watchdog are always "preserve": xl then leaves a guest that
 * stopped by itself in place, shut down with its reason code (`xl list -v`), and the agent
 * applies the administrator's policy (driver.ts). xl.cfg(5) documents "preserve" as keeping the
 * domain for inspection until `xl destroy`.
 */
import {
  domainType,
  findSetting,
  parseDiskSpec,
  parseVifSpec,
  parseXlConfig,
  writeDiskSpec,
  writeVifSpec,
  writeXlConfig,
  xlInteger,
  xlStringList,
  type DiskSpec,
  type VifSpec,
  type XlConfig,
  type XlValue,
} from "../../domain/xl-cfg/index.js";
import { checkDomainPolicy, FINDINGS_LISTED_MAX } from "../../domain/policy/index.js";
import { EtherplaneError, isEtherplaneError } from "../../foundation/errors.js";
import type { GuestDisk, GuestSpec, GuestVif } from "../driver.js";
import { checkGuestSpec } from "./guest-spec-checks.js";

/** The lifecycle keys the driver owns; see the file comment. */
export const PRESERVED_ACTIONS = ["on_poweroff", "on_reboot", "on_crash", "on_watchdog"] as const;

/** Builds the file text; throws INVALID_ARGUMENT/UNAVAILABLE for the spec, INVALID_CONFIG for the base. */
export function buildGuestXlConfig(spec: GuestSpec): string {
  checkGuestSpec(spec);
  const base = parseXlConfig(spec.xlConfig ?? "", `xl.cfg of ${spec.name}`);
  const settings = new Map<string, XlValue>(base.settings.map((s) => [s.key, s.value]));

  settings.set("name", spec.name);
  settings.set("uuid", spec.uuid.toLowerCase());
  settings.set("memory", spec.memoryMiB);
  settings.set("vcpus", spec.vcpus);
  // A ceiling below the new size would make libxl refuse the domain (target above max).
  dropCeilingBelow(base, settings, "maxmem", spec.memoryMiB);
  dropCeilingBelow(base, settings, "maxvcpus", spec.vcpus);

  applyBoot(spec, base, settings);
  settings.set(
    "disk",
    spec.disks.map((disk) => writeDiskSpec(diskSpec(disk, base))),
  );
  settings.set(
    "vif",
    spec.vifs.map((vif) => writeVifSpec(vifSpec(vif, base))),
  );
  const allowed = spec.allowUnsafe ?? [];
  // QEMU in dom0 (HVM devices, qdisk, vfb) runs as an unprivileged user in its own namespaces
  // (docs/features/qemu-deprivilege.pandoc) unless an admin allowed dm_restrict by name.
  if (!allowed.includes("dm_restrict")) settings.set("dm_restrict", 1);
  for (const key of PRESERVED_ACTIONS) settings.set(key, "preserve");

  const header =
    `# Written by etherplane's xen driver for guest ${spec.name}: the administrator's keys,\n` +
    "# with name, uuid, memory, vcpus, boot, disk, vif, dm_restrict and on_* set by the agent.\n";
  const text =
    header + writeXlConfig({ settings: [...settings].map(([key, value]) => ({ key, value })) });
  refuseUnsafe(spec.name, text, allowed);
  return text;
}

/**
 * The file xl would run goes through the domain policy once more: the controller refused these
 * keys at import, so one here is a stored file from before the policy, or a forged desired
 * state. Only the keys an admin allowed by name pass.
 */
function refuseUnsafe(name: string, text: string, allowed: readonly string[]): void {
  const refused = checkDomainPolicy(parseXlConfig(text, `xl.cfg of ${name}`)).filter(
    (finding) => !allowed.includes(finding.key),
  );
  if (refused.length === 0) return;
  throw new EtherplaneError(
    "FORBIDDEN",
    `guest ${name}: the domain file has settings the domain policy refuses: ` +
      refused
        .slice(0, FINDINGS_LISTED_MAX)
        .map((f) => `\`${f.key}\` (${f.detail}): ${f.reason}`)
        .join("; ") +
      (refused.length > FINDINGS_LISTED_MAX
        ? ` and ${refused.length - FINDINGS_LISTED_MAX} more`
        : "") +
      `; edit the domain (etherplane domain edit ${name}), or an admin allows them by name`,
    { params: { keys: [...new Set(refused.map((f) => f.key))] } },
  );
}

function applyBoot(spec: GuestSpec, base: XlConfig, settings: Map<string, XlValue>): void {
  const hasType =
    findSetting(base, "type") !== undefined || findSetting(base, "builder") !== undefined;
  if (spec.boot.kind === "kernel") {
    // With a bootloader, `kernel` would name a file inside the guest's disk (xl.cfg(5)).
    for (const key of ["bootloader", "bootloader_args", "root", "extra"]) settings.delete(key);
    if (!hasType) settings.set("type", "pv");
    settings.set("kernel", spec.boot.kernel);
    if (spec.boot.ramdisk === undefined) settings.delete("ramdisk");
    else settings.set("ramdisk", spec.boot.ramdisk);
    // `cmdline` is the whole command line; root= and extra= are its legacy halves (xl.cfg(5)).
    settings.set("cmdline", spec.boot.cmdline);
    return;
  }
  for (const key of ["kernel", "ramdisk", "cmdline", "root", "extra"]) settings.delete(key);
  const ownLoader =
    findSetting(base, "bootloader") !== undefined || findSetting(base, "firmware") !== undefined;
  if (!ownLoader && typeOrUndefined(base) !== "hvm") {
    // Nothing else in the file can boot from the disk: a fully virtualised guest with its BIOS.
    settings.delete("builder");
    settings.set("type", "hvm");
  }
}

/** The administrator's disk of the same vdev lends its flags and options (discard, ...). */
function diskSpec(disk: GuestDisk, base: XlConfig): DiskSpec {
  // checkGuestSpec has refused every other source.
  const path = disk.source.kind === "path" ? disk.source.path : "";
  const known = lenientList(base, "disk", parseDiskSpec).find((d) => d.vdev === disk.vdev);
  const access = disk.readOnly ? "ro" : "rw";
  const extras = { flags: known?.flags ?? [], options: known?.options ?? {} };
  // A device path goes to blkback directly (`phy:`); a file is left to libxl's choice of backend.
  return path.startsWith("/dev/")
    ? { target: path, vdev: disk.vdev, access, legacyPrefixes: ["phy"], ...extras }
    : { target: path, vdev: disk.vdev, format: "raw", access, legacyPrefixes: [], ...extras };
}

/** The administrator's vif of the same MAC keeps its other keys (rate, vifname, model, ...). */
function vifSpec(vif: GuestVif, base: XlConfig): VifSpec {
  const mac = vif.mac.toLowerCase();
  const known = lenientList(base, "vif", parseVifSpec).find((v) => v.mac?.toLowerCase() === mac);
  return { ...(known ?? { options: {}, flags: [] }), mac, bridge: vif.bridge };
}

/** Items that parse; the spec replaces the list anyway, so a broken old item is just not reused. */
function lenientList<T>(base: XlConfig, key: string, parse: (spec: string) => T): T[] {
  let items: string[];
  try {
    items = xlStringList(base, key);
  } catch {
    return [];
  }
  const out: T[] = [];
  for (const item of items) {
    try {
      out.push(parse(item));
    } catch (error) {
      if (!isEtherplaneError(error, "INVALID_CONFIG")) throw error;
    }
  }
  return out;
}

/** Drops `key` when it is below `value` or not a number xl could read. */
function dropCeilingBelow(
  base: XlConfig,
  settings: Map<string, XlValue>,
  key: string,
  value: number,
): void {
  let ceiling: number | undefined;
  try {
    ceiling = xlInteger(base, key);
  } catch {
    settings.delete(key);
    return;
  }
  if (ceiling !== undefined && ceiling < value) settings.delete(key);
}

function typeOrUndefined(base: XlConfig): string | undefined {
  try {
    return domainType(base);
  } catch {
    return undefined;
  }
}
