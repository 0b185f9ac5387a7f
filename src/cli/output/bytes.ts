/**
 * Byte counts as `xl`, `lvs -o size --units h` and `ls -h` users read and write them: binary
 * units (K = 1024) with one letter, e.g. `512M`, `1.5G`, `20G`.
 */
import { assert } from "../../foundation/assert.js";
import { EtherplaneError } from "../../foundation/errors.js";

const units = ["K", "M", "G", "T", "P"] as const;

const unitBytes: Record<string, number> = {
  "": 1,
  s: 512, // a sector, as in lvcreate and dd
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * `n` bytes in at most four characters plus a unit: one decimal below 10 (`1.5G`, `9.0G`),
 * whole numbers above (`20G`, `512M`), plain bytes below 1K (`512B`).
 */
export function formatBytes(n: number): string {
  assert(Number.isFinite(n), `formatBytes(${n})`);
  if (n < 0) return "-" + formatBytes(-n);
  if (n < 1024) return `${Math.round(n)}B`;
  let unit = 0;
  let value = n / 1024;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  // Rounding can reach the next unit: 1023.7M is 1.0G, not 1024M.
  if (Math.round(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = value < 9.95 ? value.toFixed(1) : String(Math.round(value));
  return text + units[unit];
}

/**
 * Parses `4096`, `64K`, `1.5G`, `20GiB`, `2gb` (all binary) or sectors with `s` (`8s` = 4096).
 * Fractions need a unit and are rounded to a whole byte. Throws INVALID_ARGUMENT.
 */
export function parseBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])i?b?|(s)|b)?$/i.exec(text.trim());
  const unit = unitBytes[(match?.[2] ?? match?.[3] ?? "").toLowerCase()];
  if (!match?.[1] || unit === undefined || (unit === 1 && match[1].includes("."))) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `"${text}" is not a size; write e.g. 4096, 64K, 1.5M, 20G or 8s (sectors)`,
    );
  }
  const value = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(value))
    throw new EtherplaneError("INVALID_ARGUMENT", `"${text}" is too large (8P at most)`);
  return value;
}
