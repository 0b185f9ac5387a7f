/**
 * The target's configuration: a JSON file, or the one-liner flags of `etherplane aoe serve`.
 * Validation checks every key against its bounds and names the key and the fix; a config that
 * fails validation changes nothing.
 *
 *   {
 *     "stateDir": "/var/lib/etherplane/aoe",   // MAC masks, reservations, config strings, stats
 *     "interfaces": ["eth1"],                  // default for exports that name none
 *     "bufferCount": 64,                       // requests in flight per export, advertised
 *     "exports": [
 *       { "address": "1.0", "path": "/srv/aoe/web.img", "durable": true },
 *       { "address": "1.1", "path": "/dev/vg0/mail", "readOnly": true, "interfaces": ["eth1", "eth2"],
 *         "macMask": ["00:16:3e:00:00:13"], "configString": "mail" }
 *     ]
 *   }
 */
import { EtherplaneError } from "../../foundation/errors.js";
import {
  CFG_STRING_BYTES_MAX,
  isAoeAddressProblem,
  parseMac,
  macToString,
  readAoeAddress,
  type AoeAddress,
} from "../codec/index.js";

export const BUFFER_COUNT_DEFAULT = 64;
export const BUFFER_COUNT_MIN = 2; // below 2 the Linux initiator cannot use the device (aoecmd.c)
export const BUFFER_COUNT_MAX = 4096;
export const EXPORTS_MAX = 1024;
export const INTERFACES_PER_EXPORT_MAX = 8;
export const MASK_MACS_MAX = 128; // the whole list must fit one reply frame at MTU 1500
export const RESERVATION_MACS_MAX = 64;
export const STATE_DIR_DEFAULT = "/var/lib/etherplane/aoe";
export const VOLUME_ID_BYTES_MAX = 128;

export interface ExportConfig {
  shelf: number;
  slot: number;
  path: string;
  interfaces: string[];
  readOnly: boolean;
  /** A write is on stable storage before its reply (group-committed fdatasync). */
  durable: boolean;
  /** When given, replaces the persisted list at load (the admin's word wins over wire edits). */
  macMask?: string[];
  reservation?: string[];
  configString?: string;
  /** IDENTIFY strings; defaults derive from the address. */
  model?: string;
  serial?: string;
  /** The expected size: when it changes (a volume grew), the export reopens its backing store. */
  sizeBytes?: number;
  /**
   * The volume's id (the storage agent gives it): persisted state belongs to this id rather than
   * to the file's identity, and a different id at the same address does not inherit it.
   */
  volumeId?: string;
  /**
   * The control plane owns this export's MAC mask and reservation (the storage agent sets both on
   * every pass): edits over the wire are refused instead of holding until its next pass. Without
   * it, as with vblade, any initiator the mask allows may edit them (AoEr11 3.3, 3.4).
   */
  accessLocked?: boolean;
}

export interface TargetConfig {
  stateDir: string;
  bufferCount: number;
  exports: ExportConfig[];
}

export function exportKey(shelf: number, slot: number): string {
  return `${shelf}.${slot}`;
}

function fail(key: string, problem: string, fix: string): never {
  throw new EtherplaneError("INVALID_CONFIG", `${key}: ${problem}; ${fix}`, { params: { key } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKeys(key: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) {
      fail(`${key}${key ? "." : ""}${name}`, "unknown key", `use one of: ${allowed.join(", ")}`);
    }
  }
}

function integer(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(key, `${JSON.stringify(value)} is not an integer in ${min}-${max}`, `use ${min}-${max}`);
  }
  return value;
}

function boolean(key: string, value: unknown): boolean {
  if (typeof value !== "boolean")
    fail(key, `${JSON.stringify(value)} is not true or false`, "use true or false");
  return value;
}

function string(key: string, value: unknown, maxBytes: number, allowEmpty = false): string {
  if (typeof value !== "string" || (!allowEmpty && value.length === 0)) {
    fail(key, `${JSON.stringify(value)} is not a non-empty string`, "give a string");
  }
  if (Buffer.byteLength(value) > maxBytes) fail(key, `longer than ${maxBytes} bytes`, "shorten it");
  return value;
}

function ifnames(key: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > INTERFACES_PER_EXPORT_MAX) {
    fail(key, "must be a list of 1-8 interface names", 'e.g. ["eth1"]');
  }
  return value.map((name, i) => {
    const text = string(`${key}[${i}]`, name, 15);
    if (!/^[A-Za-z0-9_.@-]+$/.test(text))
      fail(`${key}[${i}]`, `"${text}" is not an interface name`, "use a name from `ip link`");
    return text;
  });
}

function macList(key: string, value: unknown, max: number): string[] {
  if (!Array.isArray(value) || value.length > max)
    fail(key, `must be a list of at most ${max} MAC addresses`, 'e.g. ["00:16:3e:00:00:13"]');
  return value.map((entry, i) => {
    const mac = typeof entry === "string" ? parseMac(entry) : undefined;
    if (!mac || (mac[0] as number) & 1) {
      fail(
        `${key}[${i}]`,
        `${JSON.stringify(entry)} is not a unicast MAC address`,
        "write it as 00:16:3e:00:00:13",
      );
    }
    return macToString(mac);
  });
}

/** Parses `S.L` (or `eS.L`) into shelf and slot, within the non-broadcast ranges. */
export function parseAddress(key: string, text: unknown): AoeAddress {
  const reading = readAoeAddress(text);
  if (isAoeAddressProblem(reading)) fail(key, reading.problem, reading.fix);
  return reading;
}

const exportKeys = [
  "address",
  "path",
  "interfaces",
  "readOnly",
  "durable",
  "macMask",
  "reservation",
  "configString",
  "model",
  "serial",
  "sizeBytes",
  "volumeId",
  "accessLocked",
] as const;

function parseExport(
  key: string,
  raw: unknown,
  defaultInterfaces: string[] | undefined,
): ExportConfig {
  if (!isRecord(raw))
    fail(key, "must be an object", 'e.g. {"address": "1.0", "path": "/srv/disk.img"}');
  checkKeys(key, raw, exportKeys);
  const { shelf, slot } = parseAddress(`${key}.address`, raw["address"]);
  const interfaces =
    raw["interfaces"] === undefined
      ? defaultInterfaces
      : ifnames(`${key}.interfaces`, raw["interfaces"]);
  if (!interfaces)
    fail(
      `${key}.interfaces`,
      "missing",
      'name the interfaces here or at the top level, e.g. "interfaces": ["eth1"]',
    );
  const config: ExportConfig = {
    shelf,
    slot,
    path: string(`${key}.path`, raw["path"], 4096),
    interfaces,
    readOnly: raw["readOnly"] === undefined ? false : boolean(`${key}.readOnly`, raw["readOnly"]),
    durable: raw["durable"] === undefined ? false : boolean(`${key}.durable`, raw["durable"]),
  };
  if (raw["accessLocked"] !== undefined)
    config.accessLocked = boolean(`${key}.accessLocked`, raw["accessLocked"]);
  if (raw["macMask"] !== undefined)
    config.macMask = macList(`${key}.macMask`, raw["macMask"], MASK_MACS_MAX);
  if (raw["reservation"] !== undefined) {
    config.reservation = macList(`${key}.reservation`, raw["reservation"], RESERVATION_MACS_MAX);
  }
  if (raw["configString"] !== undefined) {
    config.configString = string(
      `${key}.configString`,
      raw["configString"],
      CFG_STRING_BYTES_MAX,
      true,
    );
  }
  if (raw["model"] !== undefined) config.model = string(`${key}.model`, raw["model"], 40);
  if (raw["serial"] !== undefined) config.serial = string(`${key}.serial`, raw["serial"], 20);
  if (raw["sizeBytes"] !== undefined)
    config.sizeBytes = integer(`${key}.sizeBytes`, raw["sizeBytes"], 0, Number.MAX_SAFE_INTEGER);
  if (raw["volumeId"] !== undefined)
    config.volumeId = string(`${key}.volumeId`, raw["volumeId"], VOLUME_ID_BYTES_MAX);
  return config;
}

/** Validates a parsed JSON config. Throws INVALID_CONFIG naming the key and the fix. */
export function parseTargetConfig(raw: unknown): TargetConfig {
  if (!isRecord(raw)) fail("(top level)", "must be a JSON object", 'start from {"exports": []}');
  checkKeys("", raw, ["stateDir", "interfaces", "bufferCount", "exports"]);
  const defaultInterfaces =
    raw["interfaces"] === undefined ? undefined : ifnames("interfaces", raw["interfaces"]);
  const rawExports = raw["exports"];
  if (!Array.isArray(rawExports) || rawExports.length > EXPORTS_MAX) {
    fail(
      "exports",
      `must be a list of at most ${EXPORTS_MAX} exports`,
      'e.g. "exports": [{"address": "1.0", "path": "/srv/disk.img"}]',
    );
  }
  const exports = rawExports.map((entry, i) =>
    parseExport(`exports[${i}]`, entry, defaultInterfaces),
  );
  const seen = new Map<string, number>();
  exports.forEach((entry, i) => {
    const key = exportKey(entry.shelf, entry.slot);
    const earlier = seen.get(key);
    if (earlier !== undefined)
      fail(
        `exports[${i}].address`,
        `${key} is already used by exports[${earlier}]`,
        "give each export its own shelf.slot",
      );
    seen.set(key, i);
  });
  return {
    stateDir:
      raw["stateDir"] === undefined ? STATE_DIR_DEFAULT : string("stateDir", raw["stateDir"], 4096),
    bufferCount:
      raw["bufferCount"] === undefined
        ? BUFFER_COUNT_DEFAULT
        : integer("bufferCount", raw["bufferCount"], BUFFER_COUNT_MIN, BUFFER_COUNT_MAX),
    exports,
  };
}

/** Parses a config file's text; a JSON syntax error names the file and position. */
export function parseTargetConfigText(text: string, source: string): TargetConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new EtherplaneError(
      "INVALID_CONFIG",
      `${source}: not valid JSON (${(cause as Error).message}); fix the syntax`,
      { cause },
    );
  }
  try {
    return parseTargetConfig(raw);
  } catch (error) {
    if (error instanceof EtherplaneError) {
      throw new EtherplaneError("INVALID_CONFIG", `${source}: ${error.message}`, {
        cause: error,
        params: error.params,
      });
    }
    throw error;
  }
}
