/**
 * Plain-text tables like `xl list` and `lvs` print: a header row, columns as wide as their widest
 * cell, two spaces between columns, no trailing spaces. Widths count UTF-16 code units, which is
 * right for the ASCII names and numbers the API returns.
 */
import { assert } from "../../foundation/assert.js";
import { printable } from "./printable.js";

export { formatBytes, parseBytes } from "./bytes.js";

export interface Column {
  header: string;
  /** Numbers read best right-aligned. Default left. */
  align?: "left" | "right";
}

/** The table's lines joined with "\n", without a final newline. */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  assert(columns.length > 0, "formatTable needs at least one column");
  const cells = [columns.map((c) => c.header), ...rows].map((row, index) => {
    assert(
      row.length === columns.length,
      `formatTable row ${index} has ${row.length} cells for ${columns.length} columns`,
    );
    return row.map(printable);
  });
  const widths = columns.map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? "").length)),
  );
  return cells
    .map((row) =>
      row
        .map((cell, column) => {
          const width = widths[column] ?? 0;
          return columns[column]?.align === "right" ? cell.padStart(width) : cell.padEnd(width);
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
