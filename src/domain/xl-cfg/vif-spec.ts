/**
 * Vif specs (xl-network-configuration(5)): comma-separated `key=value` pairs or flags, all
 * optional; the empty string is a valid vif. Spaces around items are ignored, as in the seed's
 * `'mac=00:16:3E:00:00:13, bridge=xenbr1'`.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { XL_CFG_LIMITS } from "./types.js";

/** Keys this model names; every other key is kept in `options`. */
export const VIF_KEYS = [
  "mac",
  "bridge",
  "ip",
  "type",
  "model",
  "vifname",
  "script",
  "backend",
  "rate",
  "mtu",
  "gatewaydev",
  "devid",
] as const;
export type VifKey = (typeof VIF_KEYS)[number];

export type VifSpec = {
  readonly [K in VifKey]?: string;
} & {
  /** Other `key=value` pairs (e.g. `forwarddev`, `accel`, keys newer than this model), in order. */
  readonly options: Readonly<Record<string, string>>;
  /** Items without `=`. */
  readonly flags: readonly string[];
};

const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const KEY = /^[a-z][-_a-z0-9]*$/;

export function parseVifSpec(spec: string): VifSpec {
  if (spec.length > XL_CFG_LIMITS.specBytesMax) {
    throw vifError(
      spec.slice(0, 40) + "...",
      `longer than ${XL_CFG_LIMITS.specBytesMax} characters`,
    );
  }
  const known: Partial<Record<VifKey, string>> = {};
  const options: Record<string, string> = {};
  const flags: string[] = [];
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const equals = item.indexOf("=");
    if (equals === -1) {
      if (!KEY.test(item))
        throw vifError(spec, `${JSON.stringify(item)} is neither key=value nor a flag`);
      if (!flags.includes(item)) flags.push(item);
      continue;
    }
    const key = item.slice(0, equals).trim();
    const value = item.slice(equals + 1).trim();
    if (!KEY.test(key)) throw vifError(spec, `${JSON.stringify(key)} is not a key`);
    if (key === "mac" && !MAC.test(value)) {
      throw vifError(
        spec,
        `mac=${value}: write six pairs of hex digits separated by colons, e.g. 00:16:3e:12:34:56`,
      );
    }
    if (key === "mtu" && !/^[1-9][0-9]{0,5}$/.test(value)) {
      throw vifError(spec, `mtu=${value}: write a whole number of bytes, e.g. mtu=1500`);
    }
    const target: Record<string, string> = (VIF_KEYS as readonly string[]).includes(key)
      ? known
      : options;
    if (Object.hasOwn(target, key) && target[key] !== value)
      throw vifError(spec, `${key} given twice`);
    target[key] = value;
  }
  return { ...known, options, flags };
}

/** `key=value` items joined by `,`, known keys first in a fixed order. */
export function writeVifSpec(spec: VifSpec): string {
  const items: string[] = [];
  const add = (key: string, value: string): void => {
    if (value.includes(",") || value !== value.trim()) {
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `cannot write vif spec: ${key}=${JSON.stringify(value)} holds a comma or surrounding spaces`,
      );
    }
    items.push(`${key}=${value}`);
  };
  for (const key of VIF_KEYS) {
    const value = spec[key];
    if (value !== undefined) add(key, value);
  }
  for (const [key, value] of Object.entries(spec.options)) add(key, value);
  items.push(...spec.flags);
  return items.join(",");
}

function vifError(spec: string, message: string): EtherplaneError {
  return new EtherplaneError("INVALID_CONFIG", `vif spec ${JSON.stringify(spec)}: ${message}`, {
    params: { spec },
  });
}
