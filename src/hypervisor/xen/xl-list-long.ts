/**
 * `xl list -l`: a JSON array with one `{ "domid": N, "config": <libxl_domain_config> }` per
 * domain whose configuration libxl could retrieve (list_domains_details, tools/xl/xl_info.c;
 * the field names are libxl's IDL, tools/libs/light/libxl_types.idl). Domain-0 has no uuid there,
 * and xl leaves out a domain it cannot read rather than failing the whole list.
 *
 * Only what etherplane uses is read; every field is checked for its type, since the JSON comes
 * from another program.
 */
import { EtherplaneError } from "../../foundation/errors.js";

export const XL_LIST_LONG_LIMITS = {
  outputBytesMax: 16 * 1024 * 1024,
  domainsMax: 0x7ff0,
  devicesMax: 1024,
} as const;

export interface XlDomainDisk {
  vdev: string;
  /** The backing path (`pdev_path`). */
  target?: string;
  /** "phy", "qdisk", "tap" or "unknown" (libxl_disk_backend). */
  backend?: string;
  readOnly: boolean;
}

export interface XlDomainNic {
  mac?: string;
  bridge?: string;
}

export interface XlDomainDetails {
  domid: number;
  name: string;
  uuid?: string;
  /** "pv", "pvh" or "hvm". */
  type?: string;
  maxMemoryMiB?: number;
  targetMemoryMiB?: number;
  maxVcpus?: number;
  kernel?: string;
  ramdisk?: string;
  cmdline?: string;
  disks: XlDomainDisk[];
  nics: XlDomainNic[];
  /** libxl's action names ("preserve", "destroy", "restart", "soft_reset", ...). */
  onPoweroff?: string;
  onReboot?: string;
  onCrash?: string;
  onWatchdog?: string;
}

type Json = unknown;

export function parseXlListLong(text: string): XlDomainDetails[] {
  if (Buffer.byteLength(text) > XL_LIST_LONG_LIMITS.outputBytesMax) {
    throw protocol(`output is over ${XL_LIST_LONG_LIMITS.outputBytesMax} bytes`);
  }
  let data: Json;
  try {
    data = JSON.parse(text) as Json;
  } catch (error) {
    throw protocol(`not JSON: ${(error as Error).message}`, error);
  }
  if (!Array.isArray(data)) throw protocol("not a JSON array");
  if (data.length > XL_LIST_LONG_LIMITS.domainsMax) {
    throw protocol(`more than ${XL_LIST_LONG_LIMITS.domainsMax} domains`);
  }
  return data.map((entry, index) => readDomain(entry, `[${index}]`));
}

function readDomain(entry: Json, where: string): XlDomainDetails {
  const domid = field(entry, "domid", where);
  if (!isCount(domid)) throw protocol(`${where}.domid is ${JSON.stringify(domid)}`);
  const config = object(field(entry, "config", where), `${where}.config`);
  const cInfo = object(field(config, "c_info", `${where}.config`), `${where}.config.c_info`);
  const bInfo = optionalObject(
    field(config, "b_info", `${where}.config`),
    `${where}.config.b_info`,
  );
  const name = string(field(cInfo, "name", `${where}.c_info`), `${where}.c_info.name`);
  if (name === undefined) throw protocol(`${where}.config.c_info has no name`);
  const details: XlDomainDetails = { domid, name, disks: [], nics: [] };
  const set = <K extends keyof XlDomainDetails>(key: K, value: XlDomainDetails[K] | undefined) => {
    if (value !== undefined) details[key] = value;
  };
  set("uuid", string(field(cInfo, "uuid", where), `${where}.c_info.uuid`));
  set("type", string(field(cInfo, "type", where), `${where}.c_info.type`));
  if (bInfo !== undefined) {
    set("maxMemoryMiB", kibToMib(field(bInfo, "max_memkb", where), `${where}.b_info.max_memkb`));
    set(
      "targetMemoryMiB",
      kibToMib(field(bInfo, "target_memkb", where), `${where}.b_info.target_memkb`),
    );
    const maxVcpus = field(bInfo, "max_vcpus", where);
    if (maxVcpus !== undefined) {
      if (!isCount(maxVcpus)) throw protocol(`${where}.b_info.max_vcpus is not a count`);
      details.maxVcpus = maxVcpus;
    }
    set("kernel", string(field(bInfo, "kernel", where), `${where}.b_info.kernel`));
    set("ramdisk", string(field(bInfo, "ramdisk", where), `${where}.b_info.ramdisk`));
    set("cmdline", string(field(bInfo, "cmdline", where), `${where}.b_info.cmdline`));
  }
  details.disks = list(field(config, "disks", where), `${where}.disks`).map((disk, i) =>
    readDisk(disk, `${where}.disks[${i}]`),
  );
  details.nics = list(field(config, "nics", where), `${where}.nics`).map((nic, i) => {
    const at = `${where}.nics[${i}]`;
    const out: XlDomainNic = {};
    const mac = string(field(nic, "mac", at), `${at}.mac`);
    const bridge = string(field(nic, "bridge", at), `${at}.bridge`);
    if (mac !== undefined) out.mac = mac;
    if (bridge !== undefined) out.bridge = bridge;
    return out;
  });
  set("onPoweroff", string(field(config, "on_poweroff", where), `${where}.on_poweroff`));
  set("onReboot", string(field(config, "on_reboot", where), `${where}.on_reboot`));
  set("onCrash", string(field(config, "on_crash", where), `${where}.on_crash`));
  set("onWatchdog", string(field(config, "on_watchdog", where), `${where}.on_watchdog`));
  return details;
}

function readDisk(disk: Json, at: string): XlDomainDisk {
  const vdev = string(field(disk, "vdev", at), `${at}.vdev`);
  if (vdev === undefined) throw protocol(`${at} has no vdev`);
  // libxl's JSON writes `readwrite` as 0/1 (an int in the IDL); absent means read-only (0).
  const readwrite = field(disk, "readwrite", at);
  const out: XlDomainDisk = { vdev, readOnly: readwrite !== 1 && readwrite !== true };
  const target = string(field(disk, "pdev_path", at), `${at}.pdev_path`);
  const backend = string(field(disk, "backend", at), `${at}.backend`);
  if (target !== undefined) out.target = target;
  if (backend !== undefined) out.backend = backend;
  return out;
}

function field(value: Json, key: string, where: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw protocol(`${where} is not an object`);
  }
  return Object.hasOwn(value, key) ? (value as Record<string, Json>)[key] : undefined;
}

function object(value: Json, where: string): Record<string, Json> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw protocol(`${where} is not an object`);
  }
  return value as Record<string, Json>;
}

function optionalObject(value: Json, where: string): Record<string, Json> | undefined {
  return value === undefined ? undefined : object(value, where);
}

function list(value: Json, where: string): Json[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw protocol(`${where} is not an array`);
  if (value.length > XL_LIST_LONG_LIMITS.devicesMax) {
    throw protocol(`${where} has more than ${XL_LIST_LONG_LIMITS.devicesMax} items`);
  }
  return value as Json[];
}

function string(value: Json, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw protocol(`${where} is not a string`);
  return value;
}

function kibToMib(value: Json, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (!isCount(value)) throw protocol(`${where} is not a count`);
  return Math.floor(value / 1024);
}

function isCount(value: Json): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function protocol(message: string, cause?: unknown): EtherplaneError {
  return new EtherplaneError("PROTOCOL", `xl list -l: ${message}`, { cause });
}
