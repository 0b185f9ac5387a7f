/**
 * Writes settings as xl.cfg text that libxlu reads back to the same values: keys as they are,
 * strings in double quotes (single quotes when that avoids escaping), whole numbers in decimal,
 * lists on one line when short and one item per line otherwise.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { XL_CFG_LIMITS, XL_KEY_PATTERN, type XlValue } from "./types.js";

/** Escapes libxlu's dequote understands (libxlu_cfg.c); no numeric escapes: xl mishandles them. */
const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

const LIST_LINE_MAX = 72;

export interface XlWritable {
  readonly settings: ReadonlyArray<{ readonly key: string; readonly value: XlValue }>;
}

/** The text of a config: one `key = value` line per setting, in order. */
export function writeXlConfig(config: XlWritable): string {
  return config.settings
    .map(({ key, value }) => `${checkedKey(key)} = ${writeXlValue(value, 0)}\n`)
    .join("");
}

export function writeXlValue(value: XlValue, depth = 0): string {
  if (typeof value === "string") return quoteXlString(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      // xl reads no sign, fraction or exponent: a negative or fractional number cannot be written.
      throw invalid(`${value} is not a whole number xl can read (no sign, no fraction)`);
    }
    return String(value);
  }
  if (depth >= XL_CFG_LIMITS.nestingDepthMax) {
    throw invalid(`lists nested deeper than ${XL_CFG_LIMITS.nestingDepthMax} levels`);
  }
  if (value.length === 0) return "[]";
  const items = value.map((item) => writeXlValue(item, depth + 1));
  const oneLine = `[ ${items.join(", ")} ]`;
  if (oneLine.length <= LIST_LINE_MAX && !oneLine.includes("\n")) return oneLine;
  const indent = "    ".repeat(depth + 1);
  const closing = "    ".repeat(depth);
  return `[\n${items.map((item) => `${indent}${item},\n`).join("")}${closing}]`;
}

/** A string as xl reads it back: `"..."`, or `'...'` when the text holds `"` but not `'`. */
export function quoteXlString(text: string): string {
  if (text.includes("\0")) throw invalid("a string with a NUL character cannot be written");
  const quote = text.includes('"') && !text.includes("'") ? "'" : '"';
  let out = quote;
  for (const c of text) {
    const escaped = ESCAPES[c];
    if (escaped !== undefined) out += escaped;
    else if (c === quote) out += `\\${c}`;
    else out += c;
  }
  return out + quote;
}

function checkedKey(key: string): string {
  if (!XL_KEY_PATTERN.test(key)) {
    throw invalid(`the key \`${key}\` is not one xl reads: [a-z][._0-9a-z]*`);
  }
  return key;
}

function invalid(message: string): EtherplaneError {
  return new EtherplaneError("INVALID_ARGUMENT", `cannot write xl.cfg: ${message}`);
}
