/**
 * `xl info`: one `key<padding>: value` line per fact (maybe_printf in tools/xl/xl_info.c, where
 * every key is padded to 23 columns). Memory figures are MiB: total_pages and free_pages minus
 * outstanding claims, divided by the pages per MiB. `xl info -n` adds multi-line tables, which
 * have no `: ` at their key's end and are skipped.
 */
import { EtherplaneError } from "../../foundation/errors.js";

export const XL_INFO_LIMITS = {
  outputBytesMax: 256 * 1024,
  linesMax: 4096,
} as const;

export interface XlInfo {
  /** Every `key : value` line, in order. */
  fields: ReadonlyMap<string, string>;
  host: string;
  /** `xen_version`, e.g. "4.17.7" (major.minor then xen_extra). */
  xenVersion: string;
  nrCpus: number;
  totalMemoryMiB: number;
  freeMemoryMiB: number;
  /** e.g. "pv hvm hap gnttab-v1 gnttab-v2" (empty on a host without HVM support). */
  virtCaps: string;
  scheduler: string;
}

const FIELD = /^([a-z][a-z0-9_]*)\s*: ?(.*)$/;

/** Throws PROTOCOL when a field the driver needs is missing or not a number. */
export function parseXlInfo(text: string): XlInfo {
  if (Buffer.byteLength(text) > XL_INFO_LIMITS.outputBytesMax) {
    throw protocol(`output is over ${XL_INFO_LIMITS.outputBytesMax} bytes`);
  }
  const lines = text.split("\n");
  if (lines.length > XL_INFO_LIMITS.linesMax) {
    throw protocol(`output is over ${XL_INFO_LIMITS.linesMax} lines`);
  }
  const fields = new Map<string, string>();
  for (const line of lines) {
    const match = FIELD.exec(line.replace(/\r$/, ""));
    // The first occurrence wins: later tables never repeat a key, and a repeat is not xl's.
    if (match !== null && !fields.has(match[1] as string)) {
      fields.set(match[1] as string, (match[2] as string).trim());
    }
  }
  const required = (key: string): string => {
    const value = fields.get(key);
    if (value === undefined) throw protocol(`no ${key} line`);
    return value;
  };
  const count = (key: string): number => {
    const value = required(key);
    if (!/^\d{1,15}$/.test(value)) throw protocol(`${key} is ${JSON.stringify(value)}`);
    return Number(value);
  };
  const xenVersion = required("xen_version");
  if (!/^\d+\.\d+/.test(xenVersion)) throw protocol(`xen_version is ${JSON.stringify(xenVersion)}`);
  return {
    fields,
    host: fields.get("host") ?? "",
    xenVersion,
    nrCpus: count("nr_cpus"),
    totalMemoryMiB: count("total_memory"),
    freeMemoryMiB: count("free_memory"),
    virtCaps: fields.get("virt_caps") ?? "",
    scheduler: fields.get("xen_scheduler") ?? "",
  };
}

function protocol(message: string): EtherplaneError {
  return new EtherplaneError("PROTOCOL", `xl info: ${message}`);
}
