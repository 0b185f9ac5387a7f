/** Small helpers over node:util parseArgs so that every command reports usage errors alike. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { EtherplaneError } from "../foundation/errors.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse<T extends Options>(args: string[], options: T, usage: string) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (cause) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${(cause as Error).message}\nusage: ${usage}`, {
      cause,
    });
  }
}

export function usageError(message: string, usage: string): EtherplaneError {
  return new EtherplaneError("INVALID_ARGUMENT", `${message}\nusage: ${usage}`);
}

const sizeUnits: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  s: 512,
};

/** Parses a byte count: `4096`, `64K`, `1M`, `2G`, or sectors with `s` (`8s` = 4096). */
export function parseSize(flag: string, text: string): number {
  const match = /^(\d+)([kmgts]?)i?b?$/i.exec(text.trim());
  const unit = sizeUnits[(match?.[2] ?? "").toLowerCase()];
  if (!match || unit === undefined) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `--${flag}: "${text}" is not a size; write e.g. 4096, 64K, 1M, 2G or 8s (sectors)`,
    );
  }
  const value = Number(match[1]) * unit;
  if (!Number.isSafeInteger(value))
    throw new EtherplaneError("INVALID_ARGUMENT", `--${flag}: ${text} is too large`);
  return value;
}

/** `e1.0` or `1.0` as a device name. */
export function parseDeviceName(
  text: string | undefined,
  usage: string,
): { shelf: number; slot: number } {
  const match = text ? /^e?(\d{1,5})\.(\d{1,3})$/.exec(text) : null;
  if (!match)
    throw usageError(`"${text ?? ""}" is not an AoE device; write eSHELF.SLOT, e.g. e1.0`, usage);
  const shelf = Number(match[1]);
  const slot = Number(match[2]);
  if (shelf > 0xfffe || slot > 0xfe)
    throw usageError(`${text} is out of range (shelf 0-65534, slot 0-254)`, usage);
  return { shelf, slot };
}

export function stringList(
  value: string | boolean | Array<string | boolean> | undefined,
): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
}
