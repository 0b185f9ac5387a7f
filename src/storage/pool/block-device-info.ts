/**
 * What BlockPool asks the kernel about a block device: its number, its size, and whether
 * something else uses it (a mount, swap, device-mapper or md on top). Linux only.
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { blockDeviceNumber, type BlockDeviceNumber } from "../../block/block-device-size.js";
import { fsError } from "./durable-fs.js";

/** /proc/mounts and /proc/swaps lines read before giving up (a machine has tens, not thousands). */
const PROC_LINES_MAX = 10_000;

/**
 * Why `device` must not be claimed, or undefined if nothing uses it. /proc/mounts and /proc/swaps
 * give a readable reason; the O_EXCL probe catches the rest: opening a block device with O_EXCL
 * fails with EBUSY while the kernel holds it exclusively (a mounted file system, active swap, a
 * device-mapper or md device on top; a claimed partition also holds its whole disk: see
 * bd_may_claim in block/bdev.c).
 */
export async function deviceInUse(device: string): Promise<string | undefined> {
  const number = await blockDeviceNumber(device);
  for (const [file, what] of [
    ["/proc/mounts", "mounted at"],
    ["/proc/swaps", "swap"],
  ] as const) {
    for (const [source, detail] of await procSources(file)) {
      if (source === device || (await sameDevice(source, number))) {
        return what === "swap" ? "in use as swap" : `mounted at ${detail}`;
      }
    }
  }
  try {
    const handle = await fsp.open(device, fs.constants.O_RDONLY | fs.constants.O_EXCL);
    await handle.close();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EBUSY") {
      return "held by the kernel (a mount, swap, device-mapper or md on top)";
    }
    throw fsError("open", device, cause);
  }
  return undefined;
}

/** The device column (and the next one) of /proc/mounts or /proc/swaps, octal escapes decoded. */
async function procSources(file: string): Promise<Array<[string, string]>> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return []; // no swap support
    throw fsError("read", file, cause);
  }
  const rows: Array<[string, string]> = [];
  for (const line of text.split("\n").slice(0, PROC_LINES_MAX)) {
    const [source, detail] = line.split(/\s+/);
    if (source?.startsWith("/") && detail !== undefined) {
      rows.push([unescapeProc(source), unescapeProc(detail)]);
    }
  }
  return rows;
}

/** fs/proc_namespace.c escapes space, tab, newline and backslash as \ooo. */
export function unescapeProc(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

async function sameDevice(source: string, number: BlockDeviceNumber): Promise<boolean> {
  try {
    const other = await blockDeviceNumber(source);
    return other.major === number.major && other.minor === number.minor;
  } catch {
    return false; // a mount source that is not a device node here (/dev/root, a file): not ours
  }
}
