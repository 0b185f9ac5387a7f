/**
 * `etherplane aoe stats`: a running target's per-export counters and access restrictions (MAC mask
 * lists, reservations), from STATE_DIR/stats.json.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { EtherplaneError } from "../../foundation/errors.js";
import type { TargetStats } from "../../aoe/target/aoe-target.js";
import { STATE_DIR_DEFAULT } from "../../aoe/target/config.js";
import { describeRestrictions } from "../../aoe/target/restrictions.js";
import { parse } from "../args.js";

const usage = "etherplane aoe stats [--state-dir DIR] [--json]";

export function formatStats(stats: TargetStats): string {
  const rows = [
    ["EXPORT", "FRAMES-IN", "FRAMES-OUT", "READ-MB", "WRITTEN-MB", "ERRORS", "IN-FLIGHT", "DROPS"],
  ];
  for (const e of stats.exports) {
    const c = e.counters;
    const drops =
      Object.entries(c.drops)
        .map(([reason, n]) => `${reason}=${n}`)
        .join(",") || "-";
    rows.push([
      `e${e.address}`,
      String(c.framesIn),
      String(c.framesOut),
      (c.readBytes / 1e6).toFixed(1),
      (c.writtenBytes / 1e6).toFixed(1),
      String(c.ataErrors + c.aoeErrors),
      String(c.inFlight),
      drops,
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  const targetDrops =
    Object.entries(stats.drops)
      .map(([reason, n]) => `${reason}=${n}`)
      .join(", ") || "none";
  lines.push(`frames not taken by any export: ${targetDrops}`);
  lines.push("access restrictions:");
  for (const line of describeRestrictions(stats.exports)) lines.push(`  ${line}`);
  return lines.join("\n");
}

export function statsCommand(args: string[]): void {
  const { values } = parse(
    args,
    { "state-dir": { type: "string" }, json: { type: "boolean" } },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const file = path.join(values["state-dir"] ?? STATE_DIR_DEFAULT, "stats.json");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new EtherplaneError(
      "NOT_FOUND",
      `no stats at ${file}: is a target running with that --state-dir?`,
      { cause },
    );
  }
  const stats = JSON.parse(text) as TargetStats;
  process.stdout.write(values.json ? text.trimEnd() + "\n" : formatStats(stats) + "\n");
}
