/** Small helpers over node:util parseArgs so that every command reports usage errors alike. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { EtherplaneError, errorMessage } from "../foundation/errors.js";
import { isAoeAddressProblem, readAoeAddress } from "../aoe/codec/address.js";
import { parseBytes } from "./output/bytes.js";

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

/** Parses a byte count flag (output/bytes.ts parseBytes): `4096`, `64K`, `1.5G`, or `8s` sectors. */
export function parseSize(flag: string, text: string): number {
  try {
    return parseBytes(text);
  } catch (cause) {
    throw new EtherplaneError("INVALID_ARGUMENT", `--${flag}: ${errorMessage(cause)}`, { cause });
  }
}

/** `e1.0` or `1.0` as a device name. */
export function parseDeviceName(
  text: string | undefined,
  usage: string,
): { shelf: number; slot: number } {
  const reading = readAoeAddress(text ?? "");
  if (!isAoeAddressProblem(reading)) return reading;
  if (reading.kind === "syntax")
    throw usageError(`"${text ?? ""}" is not an AoE device; write eSHELF.SLOT, e.g. e1.0`, usage);
  throw usageError(`${text}: ${reading.problem}; ${reading.fix}`, usage);
}

export function stringList(
  value: string | boolean | Array<string | boolean> | undefined,
): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
}
