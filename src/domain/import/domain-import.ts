/**
 * A domain file becomes a domain: the xl.cfg text is kept as the truth (unknown keys and all),
 * and the fields etherplane acts on are read from it. What import had to change is said, never
 * done silently: vifs without a MAC get one, appended as a last `vif = [...]` assignment (xl
 * lets the last assignment win), so every line the administrator wrote stays as written. Pure.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { DomainDisk, DomainFileFields, DomainVif } from "../domain-parts.js";
import {
  findSetting,
  parseXlConfig,
  readXlDomain,
  writeVifSpec,
  writeXlValue,
  xlString,
  type XlDomain,
} from "../xl-cfg/index.js";
import {
  DEFAULT_POLICY_OPTIONS,
  checkDomainName,
  checkDomainPolicy,
  checkVdev,
  enforceDomainPolicy,
  type PolicyActor,
  type PolicyFinding,
  type PolicyOptions,
} from "../policy/index.js";
import { linkDisk, type VolumeRef } from "./disk-link.js";

/** xl's bridge when a vif names none (xl-network-configuration(5)). */
export const DEFAULT_BRIDGE = "xenbr0";
/** When a file gives no memory or vcpus. xl's own default memory is too small to boot Linux. */
export const DEFAULT_MEMORY_MIB = 128;
export const DEFAULT_VCPUS = 1;

export interface ImportContext {
  /** The file's name, for messages. */
  source: string;
  /** Volumes a disk target may be (linked by /dev/etherd/eS.L address or by name). */
  volumes: readonly VolumeRef[];
  /** A new MAC, unique in the cluster, for a vif without one. */
  allocateMac: () => string;
  /** A MAC in canonical form; throws INVALID_ARGUMENT for a bad one. */
  normalizeMac: (text: string) => string;
  /** A new RFC 4122 uuid, for a file without `uuid`. */
  newUuid: () => string;
  /** On edit: the domain's uuid so far, kept unless the file sets another. */
  uuid?: string;
  /** Who imports or edits, what they allow (domain policy), and on edit what was allowed. */
  actor: PolicyActor;
  policy?: PolicyOptions;
}

export type DomainBoot =
  { kind: "kernel"; kernel: string; ramdisk?: string; cmdline: string } | { kind: "firmware" };

/** The fields of a domain read from its file, and what import said about them. */
export interface ImportedDomain extends DomainFileFields {
  /** The refused settings an admin allowed (now or before), for the audit log. */
  unsafeAllowed: PolicyFinding[];
  /** What import changed or linked, one sentence each. */
  changes: string[];
  /** What will stop the domain from starting as it is, one sentence each. */
  warnings: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function importDomainFile(text: string, context: ImportContext): ImportedDomain {
  const parsed = parseXlConfig(text, context.source);
  const xl = readXlDomain(parsed);
  checkDomainName(
    xl.name,
    `${context.source}: line ${findSetting(parsed, "name")?.line ?? "?"}: name`,
  );
  xl.disks.forEach((disk, index) =>
    checkVdev(
      disk.vdev,
      `${context.source}: line ${findSetting(parsed, "disk")?.line ?? "?"}: disk item ${index + 1}`,
    ),
  );
  const decision = enforceDomainPolicy(
    context.source,
    checkDomainPolicy(parsed, context.policy ?? DEFAULT_POLICY_OPTIONS),
    context.actor,
  );
  const changes: string[] = [];
  const warnings: string[] = [];

  const uuidText = xlString(parsed, "uuid");
  if (uuidText !== undefined && !UUID.test(uuidText)) {
    throw new EtherplaneError(
      "INVALID_CONFIG",
      `${context.source}: line ${findSetting(parsed, "uuid")?.line ?? "?"}: \`uuid\` is "${uuidText}"; ` +
        "write an RFC 4122 uuid such as 6b3c1f0e-2d8a-4c55-9f3e-0a1b2c3d4e5f, or remove the line",
      { params: { key: "uuid" } },
    );
  }
  const uuid = (uuidText ?? context.uuid ?? context.newUuid()).toLowerCase();

  const disks: DomainDisk[] = xl.disks
    .filter((disk) => disk.devtype !== "cdrom" || (disk.target ?? "") !== "")
    .map((disk) => {
      const target = disk.target ?? "";
      const link = linkDisk(target, context.volumes);
      if (link) {
        changes.push(
          `disk ${disk.vdev}: ${target} is volume ${link.volume.name} ` +
            `(e${link.volume.shelf}.${link.volume.slot}), linked ${link.how}`,
        );
      } else {
        warnings.push(
          `disk ${disk.vdev}: ${target} is not an etherplane volume; create a volume named ` +
            `${baseName(target)} (or import one) before starting the domain`,
        );
      }
      return {
        vdev: disk.vdev,
        target,
        readOnly: disk.access === "ro" || disk.devtype === "cdrom",
        volumeId: link?.volume.id ?? null,
      };
    });

  let allocated = false;
  const vifSpecs = xl.vifs.map((vif, index) => {
    if (vif.mac !== undefined) return vif;
    allocated = true;
    const mac = context.allocateMac();
    changes.push(`vif ${index}: no MAC given; allocated ${mac}`);
    return { ...vif, mac };
  });
  const vifs: DomainVif[] = vifSpecs.map((vif) => ({
    mac: context.normalizeMac(vif.mac ?? ""),
    bridge: vif.bridge ?? DEFAULT_BRIDGE,
  }));
  const seen = new Set<string>();
  for (const vif of vifs) {
    if (seen.has(vif.mac))
      throw new EtherplaneError(
        "INVALID_CONFIG",
        `${context.source}: two vifs have MAC ${vif.mac}; give each vif its own MAC or none`,
        { params: { key: "vif" } },
      );
    seen.add(vif.mac);
  }

  let config = text;
  if (allocated) {
    const list = writeXlValue(vifSpecs.map((vif) => writeVifSpec(vif)));
    const separator = text === "" || text.endsWith("\n") ? "" : "\n";
    config = `${text}${separator}# etherplane: MACs allocated on import\nvif = ${list}\n`;
  }

  const boot = domainBoot(xl);
  if (boot.kind === "firmware" && xl.type === "pv" && xl.bootloader === undefined) {
    warnings.push(
      "no kernel: a PV domain needs `kernel` (and usually `ramdisk` and `root`) to boot under Xen",
    );
  }
  return {
    name: xl.name,
    uuid,
    config,
    memoryMiB: xl.memoryMiB ?? DEFAULT_MEMORY_MIB,
    vcpus: xl.vcpus ?? DEFAULT_VCPUS,
    disks,
    vifs,
    onPoweroff: xl.onPoweroff,
    onReboot: xl.onReboot,
    onCrash: xl.onCrash,
    allowedUnsafe: decision.allowedKeys,
    unsafeAllowed: decision.allowed,
    changes,
    warnings,
  };
}

/**
 * How the guest boots: from a kernel on the host, as Xen PV guests do, or from its own disk.
 * The command line as xl builds it (libxl: `cmdline` wins; otherwise `root=ROOT EXTRA`).
 */
export function domainBoot(xl: XlDomain): DomainBoot {
  if (xl.kernel === undefined) return { kind: "firmware" };
  const cmdline =
    xl.cmdline ?? [xl.root === undefined ? "" : `root=${xl.root}`, xl.extra ?? ""].join(" ");
  return {
    kind: "kernel",
    kernel: xl.kernel,
    ...(xl.ramdisk === undefined ? {} : { ramdisk: xl.ramdisk }),
    cmdline: cmdline.trim(),
  };
}

/** The boot of a stored domain, read again from its file. */
export function storedDomainBoot(config: string, source: string): DomainBoot {
  return domainBoot(readXlDomain(parseXlConfig(config, source)));
}

function baseName(path: string): string {
  return path.split("/").filter(Boolean).pop() ?? path;
}
