/**
 * Checks a GuestSpec against what this driver can express, before anything touches the host:
 * names and values end up in QEMU option strings, interface names and paths, so each has a
 * pattern and a bound. Violations are INVALID_ARGUMENT naming the field.
 */
import { DOMAIN_NAME_PATTERN, domainNameProblem, isVdev } from "../../domain/policy/names.js";
import { EtherplaneError } from "../../foundation/errors.js";
import type { GuestSpec } from "../driver.js";

/** The one domain name pattern (src/domain/policy/names.ts). */
export const guestNamePattern = DOMAIN_NAME_PATTERN;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Unicast (bit 0 of the first byte clear), lower case as driver.ts says. */
const macPattern = /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/;
/** Linux interface names: at most 15 bytes, no '/', ':' or whitespace. */
const ifnamePattern = /^[A-Za-z0-9_.-]{1,15}$/;
export const memoryMiBMin = 16;
export const memoryMiBMax = 1024 * 1024;
export const vcpusMax = 64;
export const disksMax = 16;
export const vifsMax = 8;
const cmdlineBytesMax = 4096;
const pathBytesMax = 4096;
const socketPathBytesMax = 107;

function invalid(field: string, message: string): never {
  throw new EtherplaneError("INVALID_ARGUMENT", `${field}: ${message}`, { params: { field } });
}

function checkPath(field: string, path: string, bytesMax = pathBytesMax): void {
  if (!path.startsWith("/")) invalid(field, `${JSON.stringify(path)} is not an absolute path`);
  if (path.includes("\0") || Buffer.byteLength(path) > bytesMax) {
    invalid(field, `path is over ${bytesMax} bytes or holds NUL`);
  }
}

export function validateGuestSpec(spec: GuestSpec): void {
  const problem = domainNameProblem(spec.name);
  if (problem !== undefined) {
    invalid(
      "name",
      `${JSON.stringify(spec.name.slice(0, 80))} ${problem} (1-64 of A-Z a-z 0-9 _ . -, not starting with . or -)`,
    );
  }
  if (!uuidPattern.test(spec.uuid)) invalid("uuid", `${spec.uuid} is not an RFC 4122 UUID`);
  if (
    !Number.isInteger(spec.memoryMiB) ||
    spec.memoryMiB < memoryMiBMin ||
    spec.memoryMiB > memoryMiBMax
  ) {
    invalid("memoryMiB", `${spec.memoryMiB} is outside ${memoryMiBMin}..${memoryMiBMax}`);
  }
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > vcpusMax) {
    invalid("vcpus", `${spec.vcpus} is outside 1..${vcpusMax}`);
  }
  if (spec.boot.kind === "kernel") {
    checkPath("boot.kernel", spec.boot.kernel);
    if (spec.boot.ramdisk !== undefined) checkPath("boot.ramdisk", spec.boot.ramdisk);
    if (
      Buffer.byteLength(spec.boot.cmdline) > cmdlineBytesMax ||
      /[\0\n\r]/.test(spec.boot.cmdline)
    ) {
      invalid("boot.cmdline", `over ${cmdlineBytesMax} bytes or holds NUL/newlines`);
    }
  } else if (spec.disks.length === 0) {
    invalid("boot", "firmware boot needs a disk to boot from");
  }
  if (spec.disks.length > disksMax) invalid("disks", `more than ${disksMax}`);
  const vdevs = new Set<string>();
  spec.disks.forEach((disk, index) => {
    const field = `disks[${index}]`;
    if (!isVdev(disk.vdev))
      invalid(`${field}.vdev`, `${JSON.stringify(disk.vdev)} is not a device name`);
    if (vdevs.has(disk.vdev)) invalid(`${field}.vdev`, `${disk.vdev} is used twice`);
    vdevs.add(disk.vdev);
    if (disk.source.kind === "path") checkPath(`${field}.source.path`, disk.source.path);
    else checkPath(`${field}.source.socketPath`, disk.source.socketPath, socketPathBytesMax);
  });
  if (spec.vifs.length > vifsMax) invalid("vifs", `more than ${vifsMax}`);
  const macs = new Set<string>();
  spec.vifs.forEach((vif, index) => {
    const field = `vifs[${index}]`;
    if (!macPattern.test(vif.mac))
      invalid(`${field}.mac`, `${vif.mac} is not a lower-case unicast MAC`);
    if (macs.has(vif.mac)) invalid(`${field}.mac`, `${vif.mac} is used twice`);
    macs.add(vif.mac);
    if (!ifnamePattern.test(vif.bridge))
      invalid(`${field}.bridge`, `${JSON.stringify(vif.bridge)} is not an interface name`);
  });
}
