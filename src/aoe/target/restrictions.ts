/**
 * Which exports answer only some initiators, in words: the target logs these at start and on
 * SIGHUP, and `etherplane aoe stats` prints them. A masked export does not answer the others at
 * all (AoEr11 3.3), so this is where "the target does not answer" is explained.
 */

export interface ExportAccess {
  address: string;
  /** Missing in stats.json written by an older target. */
  macMask?: readonly string[];
  reservation?: readonly string[];
}

/** `e1.0: MAC mask list (2 entries: a, b): no other initiator sees it; reserved by c: ...`, or undefined. */
export function describeRestriction(access: ExportAccess): string | undefined {
  const mask = access.macMask ?? [];
  const holders = access.reservation ?? [];
  const parts: string[] = [];
  if (mask.length > 0)
    parts.push(
      `MAC mask list (${mask.length} ${mask.length === 1 ? "entry" : "entries"}: ${mask.join(", ")}): no other initiator sees it`,
    );
  if (holders.length > 0)
    parts.push(
      `reserved by ${holders.join(", ")}: others get AoE error 6 (target reserved) on I/O`,
    );
  return parts.length > 0 ? `e${access.address}: ${parts.join("; ")}` : undefined;
}

/** One line per restricted export; a single line saying so when none is. */
export function describeRestrictions(exports: readonly ExportAccess[]): string[] {
  const lines = exports.flatMap((access) => describeRestriction(access) ?? []);
  return lines.length > 0
    ? lines
    : [`no export is restricted (no MAC mask list, no reservation on ${exports.length} export(s))`];
}
