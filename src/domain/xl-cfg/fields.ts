/**
 * Typed reads of the settings a domain needs (xl.cfg(5)). Like libxlu, a number may be written
 * quoted or not (`memory = 256` or `memory = "256"`) and a string key may hold a bare number.
 * Every error names the key, its line and the fix.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseDiskSpec, type DiskSpec } from "./disk-spec.js";
import { parseXlNumber } from "./number.js";
import { findSetting, type XlConfig, type XlSetting } from "./types.js";
import { parseVifSpec, type VifSpec } from "./vif-spec.js";

export const LIFECYCLE_ACTIONS = [
  "destroy",
  "restart",
  "preserve",
  "coredump-destroy",
  "coredump-restart",
  "rename-restart",
  "soft-reset",
] as const;
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];
export const DOMAIN_TYPES = ["pv", "pvh", "hvm"] as const;
export type DomainType = (typeof DOMAIN_TYPES)[number];

/** The fields of a domain file this project models; everything else stays in the XlConfig. */
export interface XlDomain {
  readonly name: string;
  readonly type: DomainType;
  readonly memoryMiB?: number;
  readonly maxmemMiB?: number;
  readonly vcpus?: number;
  readonly maxvcpus?: number;
  readonly kernel?: string;
  readonly ramdisk?: string;
  readonly root?: string;
  readonly extra?: string;
  readonly cmdline?: string;
  readonly bootloader?: string;
  readonly onPoweroff: LifecycleAction;
  readonly onReboot: LifecycleAction;
  readonly onCrash: LifecycleAction;
  readonly disks: readonly DiskSpec[];
  readonly vifs: readonly VifSpec[];
}

/** Reads every modelled field; throws INVALID_CONFIG at the first bad one. */
export function readXlDomain(config: XlConfig): XlDomain {
  const domain: Record<string, unknown> = {
    name: domainName(config),
    type: domainType(config),
  };
  const optional: Array<[string, unknown]> = [
    ["memoryMiB", xlInteger(config, "memory", { min: 1 })],
    ["maxmemMiB", xlInteger(config, "maxmem", { min: 1 })],
    ["vcpus", xlInteger(config, "vcpus", { min: 1 })],
    ["maxvcpus", xlInteger(config, "maxvcpus", { min: 1 })],
    ["kernel", xlString(config, "kernel")],
    ["ramdisk", xlString(config, "ramdisk")],
    ["root", xlString(config, "root")],
    ["extra", xlString(config, "extra")],
    ["cmdline", xlString(config, "cmdline")],
    ["bootloader", xlString(config, "bootloader")],
  ];
  for (const [field, value] of optional) if (value !== undefined) domain[field] = value;
  // xl's defaults (xl.cfg(5)): destroy on power-off and on crash, restart on reboot.
  domain.onPoweroff = lifecycleAction(config, "on_poweroff") ?? "destroy";
  domain.onReboot = lifecycleAction(config, "on_reboot") ?? "restart";
  domain.onCrash = lifecycleAction(config, "on_crash") ?? "destroy";
  domain.disks = xlDisks(config);
  domain.vifs = xlVifs(config);
  return domain as unknown as XlDomain;
}

export function domainName(config: XlConfig): string {
  const name = xlString(config, "name");
  if (name === undefined || name === "") {
    throw keyError(
      config,
      "name",
      undefined,
      'is missing: every domain needs one, e.g. name = "web1"',
    );
  }
  return name;
}

/** `type`, or the older `builder` ("hvm" or "generic"); PV when neither is set (xl.cfg(5)). */
export function domainType(config: XlConfig): DomainType {
  const type = xlString(config, "type");
  if (type !== undefined) return oneOf(config, "type", type, DOMAIN_TYPES);
  const builder = xlString(config, "builder");
  if (builder === undefined || builder === "generic") return "pv";
  if (builder === "hvm") return "hvm";
  throw keyError(
    config,
    "builder",
    findSetting(config, "builder"),
    `"${builder}" is unknown: write type = "pv", "pvh" or "hvm"`,
  );
}

export function lifecycleAction(config: XlConfig, key: string): LifecycleAction | undefined {
  const value = xlString(config, key);
  return value === undefined ? undefined : oneOf(config, key, value, LIFECYCLE_ACTIONS);
}

/** A single value as text; a number is its decimal text. */
export function xlString(config: XlConfig, key: string): string | undefined {
  const setting = findSetting(config, key);
  if (setting === undefined) return undefined;
  if (typeof setting.value === "string") return setting.value;
  if (typeof setting.value === "number") return String(setting.value);
  throw keyError(
    config,
    key,
    setting,
    `is a list but must be a single value: write ${key} = "..."`,
  );
}

/** A whole number, written bare or quoted, within `[min, max]`. */
export function xlInteger(
  config: XlConfig,
  key: string,
  bounds: { min?: number; max?: number } = {},
): number | undefined {
  const setting = findSetting(config, key);
  if (setting === undefined) return undefined;
  let value: number | string;
  if (typeof setting.value === "number") value = setting.value;
  else if (typeof setting.value === "string") value = parseXlNumber(setting.value.trim());
  else throw keyError(config, key, setting, `is a list but must be a number: write ${key} = 1`);
  if (typeof value === "string")
    throw keyError(config, key, setting, `must be a whole number: ${value}`);
  const min = bounds.min ?? 0;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  if (value < min || value > max) {
    throw keyError(config, key, setting, `is ${value}; it must be between ${min} and ${max}`);
  }
  return value;
}

/** A list of strings; a single string counts as a list of one, as xl does not (we are kinder). */
export function xlStringList(config: XlConfig, key: string): string[] {
  const setting = findSetting(config, key);
  if (setting === undefined) return [];
  if (typeof setting.value === "string") return [setting.value];
  if (typeof setting.value === "number") {
    throw keyError(
      config,
      key,
      setting,
      `is a number but must be a list: write ${key} = [ '...' ]`,
    );
  }
  return setting.value.map((item, index) => {
    if (typeof item === "string") return item;
    throw keyError(
      config,
      key,
      setting,
      `item ${index + 1} must be a quoted string: write ${key} = [ '...', '...' ]`,
    );
  });
}

export function xlDisks(config: XlConfig): DiskSpec[] {
  return xlStringList(config, "disk").map((spec, index) =>
    withKey(config, "disk", index, () => parseDiskSpec(spec)),
  );
}

export function xlVifs(config: XlConfig): VifSpec[] {
  return xlStringList(config, "vif").map((spec, index) =>
    withKey(config, "vif", index, () => parseVifSpec(spec)),
  );
}

function withKey<T>(config: XlConfig, key: string, index: number, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!isEtherplaneError(error, "INVALID_CONFIG")) throw error;
    throw keyError(
      config,
      key,
      findSetting(config, key),
      `item ${index + 1}: ${error.message}`,
      error,
    );
  }
}

function oneOf<T extends string>(
  config: XlConfig,
  key: string,
  value: string,
  allowed: readonly T[],
): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw keyError(
    config,
    key,
    findSetting(config, key),
    `is "${value}"; write one of ${allowed.map((a) => `'${a}'`).join(", ")}`,
  );
}

function keyError(
  config: XlConfig,
  key: string,
  setting: XlSetting | undefined,
  message: string,
  cause?: unknown,
): EtherplaneError {
  const where = setting === undefined ? config.source : `${config.source}: line ${setting.line}`;
  return new EtherplaneError("INVALID_CONFIG", `${where}: \`${key}\` ${message}`, {
    cause,
    params: {
      source: config.source,
      key,
      ...(setting === undefined ? {} : { line: setting.line }),
    },
  });
}
