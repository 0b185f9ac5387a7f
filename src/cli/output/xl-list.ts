/**
 * `etherplane list` in `xl list`'s own layout, so that a Xen administrator's eyes (and scripts)
 * find every column where they expect it. xl prints (tools/xl/xl_list.c, checked against real
 * Xen 4.17 output in test/fixtures/xl/xl-list-dom0-only.txt):
 *
 *   header  "Name                                        ID   Mem VCPUs\tState\tTime(s)"
 *   row     "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f"
 *
 * Domains that are defined but not running (xl does not list those; `xm list` listed its
 * managed inactive domains) show `-` as their ID, their configured memory, `------` and 0.0.
 * Pure.
 */
export const XL_LIST_HEADER =
  "Name                                        ID   Mem VCPUs\tState\tTime(s)";

export interface XlListRow {
  name: string;
  /** null: not running. */
  domid: number | null;
  memoryMiB: number;
  vcpus: number;
  /** Six characters, e.g. `-b----`. */
  flags: string;
  cpuTimeS: number;
}

function right(text: string, width: number): string {
  return text.padStart(width, " ");
}

export function formatXlListRow(row: XlListRow): string {
  const flags = /^[-rbpscd]{6}$/.test(row.flags) ? row.flags : "------";
  return (
    `${row.name.padEnd(40, " ")} ` +
    `${right(row.domid === null ? "-" : String(row.domid), 5)} ` +
    `${right(String(Math.floor(row.memoryMiB)), 5)} ` +
    `${right(String(row.vcpus), 5)}     ` +
    `${flags}  ` +
    right(row.cpuTimeS.toFixed(1), 8)
  );
}

export function formatXlList(rows: readonly XlListRow[]): string {
  return [XL_LIST_HEADER, ...rows.map(formatXlListRow)].join("\n");
}
