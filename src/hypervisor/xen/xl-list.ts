/**
 * `xl list` and `xl list -v` text, as list_domains prints it (tools/xl/xl_info.c, Xen 4.17):
 *
 *   Name                                        ID   Mem VCPUs<TAB>State<TAB>Time(s)
 *   %-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f
 *
 * with `-v` the header gains `   UUID                            Reason-Code<TAB>Security Label`
 * and each row ` <uuid> %8x` (the shutdown reason code in hex, `-` while not shut down) and
 * ` %16s` (the XSM label, `-` without one). Mem is current plus outstanding memory in MiB. The
 * State letters are r b p s, then the shutdown reason letter (`c` for a crash, `r` for a reboot,
 * `-` for a power-off: shutdown-reason.ts), then d.
 *
 * xl refuses no character in a name, so a name may hold spaces: rows are read from the right,
 * where every field has a fixed shape, and the name is whatever comes before.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { GuestExit, GuestStateFlags } from "../driver.js";
import { exitFromShutdownReason, shutdownReasonFromLetter } from "./shutdown-reason.js";

export const XL_LIST_LIMITS = {
  outputBytesMax: 4 * 1024 * 1024,
  /** Xen's domids stop below DOMID_FIRST_RESERVED (0x7FF0). */
  rowsMax: 0x7ff0,
  lineBytesMax: 1024,
} as const;

export interface XlListRow {
  name: string;
  domid: number;
  memoryMiB: number;
  vcpus: number;
  /** The State column as printed, e.g. `-b----` or `---sc-`. */
  stateText: string;
  state: GuestStateFlags;
  cpuTimeS: number;
  /** Only with `-v`. */
  uuid?: string;
  /** The shutdown reason code while shut down (from `-v`, else from the State letter). */
  shutdownReason: number | null;
  exit: GuestExit | null;
}

const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const ROW_HEAD = String.raw`^(.+?)\s+(\d{1,5})\s+(\d{1,15})\s+(\d{1,6})\s+([-a-zA-Z?]{6})\s+(\d{1,15}\.\d)`;
const PLAIN_ROW = new RegExp(`${ROW_HEAD}\\s*$`);
const VERBOSE_ROW = new RegExp(`${ROW_HEAD}\\s+(${UUID})\\s+([0-9a-f]{1,8}|-)\\s+(\\S.*?)\\s*$`);
const HEADER = /^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time\(s\)/;

/** Parses `xl list` or `xl list -v` output; throws PROTOCOL naming the line that does not fit. */
export function parseXlList(text: string): XlListRow[] {
  if (Buffer.byteLength(text) > XL_LIST_LIMITS.outputBytesMax) {
    throw protocol(`output is over ${XL_LIST_LIMITS.outputBytesMax} bytes`);
  }
  const lines = text.split("\n");
  const headerIndex = lines.findIndex((line) => line.trim() !== "");
  const header = lines[headerIndex];
  if (header === undefined || !HEADER.test(header)) {
    throw protocol(
      `no "Name ID Mem VCPUs State Time(s)" header but ${JSON.stringify(header ?? "")}`,
    );
  }
  const verbose = /\bUUID\b/.test(header) && /\bReason-Code\b/.test(header);
  const rows: XlListRow[] = [];
  for (let index = headerIndex + 1; index < lines.length; index++) {
    const line = (lines[index] as string).replace(/\r$/, "");
    if (line.trim() === "") continue;
    if (rows.length >= XL_LIST_LIMITS.rowsMax) {
      throw protocol(`more than ${XL_LIST_LIMITS.rowsMax} domains`);
    }
    rows.push(parseRow(line, index + 1, verbose));
  }
  return rows;
}

function parseRow(line: string, lineNumber: number, verbose: boolean): XlListRow {
  if (line.length > XL_LIST_LIMITS.lineBytesMax) {
    throw protocol(`line ${lineNumber} is over ${XL_LIST_LIMITS.lineBytesMax} characters`);
  }
  const match = (verbose ? VERBOSE_ROW : PLAIN_ROW).exec(line);
  if (match === null) {
    throw protocol(
      `line ${lineNumber} is not a ${verbose ? "verbose " : ""}domain row: ${JSON.stringify(line)}`,
    );
  }
  const [, name, domid, mem, vcpus, stateText, time, uuid, reasonText] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string | undefined,
    string | undefined,
  ];
  const state = parseStateText(stateText, lineNumber);
  const shutdownReason = state.shutdown
    ? verbose && reasonText !== "-"
      ? parseInt(reasonText as string, 16)
      : (shutdownReasonFromLetter(stateText[4] as string) ?? -1)
    : null;
  const row: XlListRow = {
    name: name.trim(),
    domid: Number(domid),
    memoryMiB: Number(mem),
    vcpus: Number(vcpus),
    stateText,
    state,
    cpuTimeS: Number(time),
    shutdownReason,
    exit: shutdownReason === null ? null : exitFromShutdownReason(shutdownReason),
  };
  if (uuid !== undefined) row.uuid = uuid.toLowerCase();
  return row;
}

/** The six State letters; each position holds its own letter or `-` (the fifth: a reason). */
export function parseStateText(text: string, lineNumber = 0): GuestStateFlags {
  const at = (index: number, letter: string): boolean => {
    const c = text[index];
    if (c === letter) return true;
    if (c === "-") return false;
    throw protocol(`line ${lineNumber}: State ${JSON.stringify(text)} has ${c} at ${index + 1}`);
  };
  if (text.length !== 6) throw protocol(`line ${lineNumber}: State ${JSON.stringify(text)}`);
  const reasonLetter = text[4] as string;
  if (
    reasonLetter !== "?" &&
    reasonLetter !== "-" &&
    shutdownReasonFromLetter(reasonLetter) === undefined
  ) {
    throw protocol(
      `line ${lineNumber}: State ${JSON.stringify(text)} has no reason ${reasonLetter}`,
    );
  }
  return {
    running: at(0, "r"),
    blocked: at(1, "b"),
    paused: at(2, "p"),
    shutdown: at(3, "s"),
    crashed: reasonLetter === "c",
    dying: at(5, "d"),
  };
}

function protocol(message: string): EtherplaneError {
  return new EtherplaneError("PROTOCOL", `xl list: ${message}`);
}
