/**
 * A block device's number and size, as Linux tells them (a block device's stat size is 0). Used by
 * the file block device (exporting a partition or logical volume) and by block pools.
 */
import type * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { EtherplaneError } from "../foundation/errors.js";

function fileError(op: string, path: string, cause: unknown): EtherplaneError {
  const code = (cause as NodeJS.ErrnoException).code;
  return new EtherplaneError(
    code === "ENOENT" ? "NOT_FOUND" : "IO_ERROR",
    `cannot ${op} ${path}: ${(cause as Error).message}`,
    {
      cause,
      params: { path },
    },
  );
}

export interface BlockDeviceNumber {
  major: number;
  minor: number;
}

/** The device number of a block device node; INVALID_ARGUMENT for anything else. */
export async function blockDeviceNumber(device: string): Promise<BlockDeviceNumber> {
  let stat: fs.BigIntStats;
  try {
    stat = await fsp.stat(device, { bigint: true });
  } catch (cause) {
    throw fileError("stat", device, cause);
  }
  if (!stat.isBlockDevice()) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${device} is not a block device`, {
      params: { device },
    });
  }
  return decodeDev(stat.rdev);
}

/**
 * Linux's dev_t as glibc encodes it (sys/sysmacros.h gnu_dev_major/minor): major in bits 8-19
 * and 44-63, minor in bits 0-7 and 20-43, each read back as a 32-bit number. BigInt, since JS
 * bit operators cut at 32 bits.
 */
export function decodeDev(rdev: bigint): BlockDeviceNumber {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** Size of a block device from sysfs (its stat size is 0), in bytes. */
export async function blockDeviceBytes(device: string): Promise<number> {
  const { major, minor } = await blockDeviceNumber(device);
  const file = `/sys/dev/block/${major}:${minor}/size`;
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (cause) {
    throw fileError("read", file, cause);
  }
  const sectors = Number(text.trim());
  if (!Number.isSafeInteger(sectors) || sectors < 0) {
    throw new EtherplaneError("IO_ERROR", `${file} holds ${JSON.stringify(text)}, not a size`);
  }
  return sectors * 512; // sysfs counts 512-byte sectors whatever the logical block size
}
