/**
 * Bounds on a GuestSpec before it becomes an xl.cfg file and `xl` arguments. The spec comes from
 * the agent, which has validated it against the administrator's input; these checks guard what
 * reaches xl (a name that xl would read as a domid, a comma that would split a disk spec).
 */
import { DOMAIN_NAME_PATTERN, domainNameProblem, isVdev } from "../../domain/policy/names.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { IFNAME_BYTES_MAX } from "../../net/ifname.js";
import type { GuestDisk, GuestSpec, GuestVif } from "../driver.js";

export const GUEST_SPEC_LIMITS = {
  nameLengthMax: 64,
  /** Xen 4.17 x86 PV and HVM guests: far above any real host. */
  memoryMiBMax: 16 * 1024 * 1024,
  vcpusMax: 512,
  disksMax: 64,
  vifsMax: 32,
  pathLengthMax: 1024,
  cmdlineLengthMax: 4096,
} as const;

/**
 * The one domain name pattern (src/domain/policy/names.ts): letters, digits, `_`, `.`, `-`, not
 * starting with `-` or `.`, not all digits (xl reads `xl destroy 12` as domid 12), not Domain-0.
 * The name also names the guest's config file.
 */
export const GUEST_NAME_PATTERN = DOMAIN_NAME_PATTERN;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** A Linux interface name: IFNAMSIZ-1 characters, no `/`, `,`, `=` or space (a vif spec item). */
const BRIDGE_PATTERN = new RegExp(`^[A-Za-z0-9_.:-]{1,${IFNAME_BYTES_MAX}}$`);

export function checkGuestName(name: string): void {
  const problem = domainNameProblem(name);
  if (problem !== undefined) {
    throw invalid(
      `guest name ${JSON.stringify(name.slice(0, 80))} ${problem}: use up to ` +
        `${GUEST_SPEC_LIMITS.nameLengthMax} letters, digits, _ . - (not all digits, not starting with - or .)`,
    );
  }
}

export function checkGuestSpec(spec: GuestSpec): void {
  checkGuestName(spec.name);
  if (!UUID_PATTERN.test(spec.uuid)) throw invalid(`uuid ${JSON.stringify(spec.uuid)}`);
  wholeNumber("memoryMiB", spec.memoryMiB, 1, GUEST_SPEC_LIMITS.memoryMiBMax);
  wholeNumber("vcpus", spec.vcpus, 1, GUEST_SPEC_LIMITS.vcpusMax);
  if (spec.boot.kind === "kernel") {
    hostPath("kernel", spec.boot.kernel);
    if (spec.boot.ramdisk !== undefined) hostPath("ramdisk", spec.boot.ramdisk);
    if (spec.boot.cmdline.length > GUEST_SPEC_LIMITS.cmdlineLengthMax) {
      throw invalid(`cmdline is over ${GUEST_SPEC_LIMITS.cmdlineLengthMax} characters`);
    }
  }
  if (spec.disks.length > GUEST_SPEC_LIMITS.disksMax) {
    throw invalid(`${spec.disks.length} disks, more than ${GUEST_SPEC_LIMITS.disksMax}`);
  }
  if (spec.vifs.length > GUEST_SPEC_LIMITS.vifsMax) {
    throw invalid(`${spec.vifs.length} vifs, more than ${GUEST_SPEC_LIMITS.vifsMax}`);
  }
  const vdevs = new Set<string>();
  for (const disk of spec.disks) {
    checkDisk(disk);
    if (vdevs.has(disk.vdev)) throw invalid(`two disks are ${disk.vdev}`);
    vdevs.add(disk.vdev);
  }
  const macs = new Set<string>();
  for (const vif of spec.vifs) {
    checkVif(vif);
    const mac = vif.mac.toLowerCase();
    if (macs.has(mac)) throw invalid(`two vifs have the MAC ${mac}`);
    macs.add(mac);
  }
}

function checkDisk(disk: GuestDisk): void {
  if (!isVdev(disk.vdev)) {
    throw invalid(`disk vdev ${JSON.stringify(disk.vdev)}: use e.g. xvda, xvdb1, hda or sda1`);
  }
  if (disk.source.kind === "nbd") {
    // libxl has no NBD-over-Unix-socket backend a PV guest could use; the AoE disk must be a
    // block device in dom0 (/dev/etherd/eS.L), which needs the aoe module there.
    throw new EtherplaneError(
      "UNAVAILABLE",
      `disk ${disk.vdev}: the xen driver cannot attach an NBD socket ` +
        `(${disk.source.socketPath}); dom0 needs the aoe module so the disk is a block device ` +
        "such as /dev/etherd/e1.0",
      { params: { vdev: disk.vdev } },
    );
  }
  hostPath(`disk ${disk.vdev}`, disk.source.path);
  if (disk.source.path.includes(",")) {
    // Legal after target= but not in the positional phy: form; no real device path has one.
    throw invalid(`disk ${disk.vdev} path ${JSON.stringify(disk.source.path)} holds a comma`);
  }
}

function checkVif(vif: GuestVif): void {
  if (!MAC_PATTERN.test(vif.mac)) throw invalid(`vif MAC ${JSON.stringify(vif.mac)}`);
  if (!BRIDGE_PATTERN.test(vif.bridge)) {
    throw invalid(`vif bridge ${JSON.stringify(vif.bridge)}: an interface name of 1-15 characters`);
  }
}

function hostPath(what: string, path: string): void {
  if (
    !path.startsWith("/") ||
    path.length > GUEST_SPEC_LIMITS.pathLengthMax ||
    /[\0\n\r]/.test(path)
  ) {
    throw invalid(`${what} ${JSON.stringify(path)}: an absolute host path`);
  }
}

function wholeNumber(what: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${what} ${value}: a whole number from ${min} to ${max}`);
  }
}

function invalid(message: string): EtherplaneError {
  return new EtherplaneError("INVALID_ARGUMENT", `xen guest spec: ${message}`);
}
