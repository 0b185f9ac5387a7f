import { EtherplaneError } from "../../foundation/errors.js";

/** Where in which file a problem is; every xl.cfg error names it. */
export interface XlPosition {
  readonly source: string;
  readonly line: number;
  readonly column: number;
}

/** INVALID_CONFIG with `{ source, line, column }`, worded `FILE: line L, column C: WHAT`. */
export function xlConfigError(
  at: XlPosition,
  message: string,
  params: Record<string, unknown> = {},
): EtherplaneError {
  return new EtherplaneError(
    "INVALID_CONFIG",
    `${at.source}: line ${at.line}, column ${at.column}: ${message}`,
    { params: { source: at.source, line: at.line, column: at.column, ...params } },
  );
}

/** A token as shown in a message: `x`, or a name for what cannot be quoted. */
export function describeText(text: string): string {
  if (text === "") return "the end of the file";
  if (text === "\n") return "the end of the line";
  const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  let visible = "";
  for (const c of shown) {
    const code = c.charCodeAt(0);
    visible += code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : c;
  }
  return `\`${visible}\``;
}
