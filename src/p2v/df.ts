/**
 * Used bytes per file system from `df -P -k` (POSIX output, the same from GNU coreutils and
 * busybox): `Filesystem 1024-blocks Used Available Capacity Mounted-on`. Pure.
 */
import { EtherplaneError } from "../foundation/errors.js";

export interface DfRow {
  mountPoint: string;
  sizeBytes: number;
  usedBytes: number;
}

const KIB = 1024;

export function parseDfP(text: string): DfRow[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const [header, ...rows] = lines;
  if (!header || !/^Filesystem\s+1024-blocks\s+Used/i.test(header))
    throw new EtherplaneError(
      "PROTOCOL",
      `the source's df -P -k printed no POSIX header: ${JSON.stringify((header ?? "").slice(0, 80))}`,
    );
  return rows.map((line) => {
    // The device may hold spaces; the last five fields are fixed.
    const match = /\s(\d+)\s+(\d+)\s+(\d+)\s+(\d+|-)%?\s+(\/.*)$/.exec(line);
    if (!match)
      throw new EtherplaneError(
        "PROTOCOL",
        `the source's df line is not POSIX: ${JSON.stringify(line.slice(0, 120))}`,
      );
    return {
      mountPoint: match[5] ?? "/",
      sizeBytes: Number(match[1]) * KIB,
      usedBytes: Number(match[2]) * KIB,
    };
  });
}
