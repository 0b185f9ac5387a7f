/**
 * Domain names and virtual device names, checked once by one pattern wherever they come in
 * (import, edit, a driver's spec). Pure.
 *
 * A domain name becomes a file name (a driver's run directory, its .pid/.log/.sock/.cfg files),
 * a QEMU option value, a xenstore path and an `xl` argument. xl itself accepts almost any text
 * (libxl only refuses a name already in use); this pattern is the part of it that is safe in all
 * of those places: ASCII letters, digits, `_`, `.`, `-`, at most 64 characters, starting with a
 * letter, digit or `_` (a leading `-` reads as an option, a leading `.` hides the file or climbs
 * with `..`), not all digits (xl reads `12` as a domid: libxl_domain_qualifier_to_domid), and not
 * `Domain-0` in any case (dom0's name in xl list). Path separators, control characters and bidi
 * overrides are outside it.
 */
import { EtherplaneError } from "../../foundation/errors.js";

export const DOMAIN_NAME_CHARS_MAX = 64;
export const DOMAIN_NAME_PATTERN = /^(?!\d+$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const DOM0_NAME = "domain-0";

/** Why `name` cannot be a domain's name, or undefined when it can. */
export function domainNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > DOMAIN_NAME_CHARS_MAX)
    return `is ${name.length} characters; a name has at most ${DOMAIN_NAME_CHARS_MAX}`;
  if (name.toLowerCase() === DOM0_NAME) return "is dom0's name (Domain-0)";
  if (/^\d+$/.test(name)) return "is all digits (xl would read it as a domain id)";
  if (!DOMAIN_NAME_PATTERN.test(name))
    return (
      "may hold only letters, digits, _ . - (no /, spaces, control or direction characters), " +
      "and starts with a letter, digit or _"
    );
  return undefined;
}

/** Throws INVALID_CONFIG naming `where` and the fix. */
export function checkDomainName(name: string, where = "domain name"): void {
  const problem = domainNameProblem(name);
  if (problem === undefined) return;
  throw new EtherplaneError(
    "INVALID_CONFIG",
    `${where} ${printable(name)} ${problem}: write e.g. name = "web1"`,
    { params: { field: "name" } },
  );
}

/**
 * The vdev grammar of xl-disk-configuration(5) and docs/misc/vbd-interface.txt (Xen 4.17), with
 * its limits: `xvd<letters>[<partition>]` (disk < 2^20, partition 0-15), `hd<letter>[<part>]`
 * (disk a-d, partition 0-63), `sd<letters>[<part>]` (disk a-p, partition 0-15) and
 * `d<disk>[p<partition>]` (disk < 2^20, partition 0-255). Letters count as libxl counts them
 * (a=0 ... z=25, aa=26: libxl_device.c). Numbers carry no leading zero.
 */
const VDEV_FORMS: ReadonlyArray<{
  pattern: RegExp;
  disk: (match: RegExpExecArray) => number;
  diskMax: number;
  partitionMax: number;
}> = [
  {
    pattern: /^xvd([a-z]{1,4})(0|[1-9]\d{0,2})?$/,
    disk: letters,
    diskMax: (1 << 20) - 1,
    partitionMax: 15,
  },
  { pattern: /^hd([a-z])(0|[1-9]\d?)?$/, disk: letters, diskMax: 3, partitionMax: 63 },
  { pattern: /^sd([a-z]{1,2})(0|[1-9]\d?)?$/, disk: letters, diskMax: 15, partitionMax: 15 },
  {
    pattern: /^d(0|[1-9]\d{0,6})(?:p(0|[1-9]\d{0,2}))?$/,
    disk: (m) => Number(m[1]),
    diskMax: (1 << 20) - 1,
    partitionMax: 255,
  },
];

function letters(match: RegExpExecArray): number {
  let n = -1;
  for (const c of match[1] ?? "") n = (n + 1) * 26 + (c.charCodeAt(0) - 97);
  return n;
}

export function isVdev(vdev: string): boolean {
  for (const form of VDEV_FORMS) {
    const match = form.pattern.exec(vdev);
    if (match === null) continue;
    const partition = Number(match[2] ?? 0);
    return form.disk(match) <= form.diskMax && partition <= form.partitionMax;
  }
  return false;
}

/** Throws INVALID_CONFIG naming the vdev and the forms xl reads. */
export function checkVdev(vdev: string, where = "disk"): void {
  if (isVdev(vdev)) return;
  throw new EtherplaneError(
    "INVALID_CONFIG",
    `${where}: vdev ${printable(vdev)} is not a Xen virtual device name: write xvda, xvdb1, ` +
      "hda (a-d), sda1 (a-p) or d0p1 (xl-disk-configuration(5))",
    { params: { field: "vdev" } },
  );
}

/** A name quoted for a message: JSON escapes, bidi controls shown, at most 80 characters. */
export function printable(text: string): string {
  const clipped = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return JSON.stringify(clipped).replace(
    /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
