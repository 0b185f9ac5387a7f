/**
 * Unquoted numbers. libxlu keeps them as text and reads them with strtol(..., 0) (libxlu_cfg.c):
 * decimal, octal with a leading 0, hex with 0x. We read them when parsing, and bound them to what
 * a JavaScript number holds exactly.
 */

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const OCTAL = /^0[0-7]+$/;
const HEX = /^0[xX][0-9a-fA-F]+$/;

/** The number, or a message saying why `text` is not one. */
export function parseXlNumber(text: string): number | string {
  let value: number;
  if (DECIMAL.test(text)) value = Number(text);
  else if (OCTAL.test(text)) value = parseInt(text.slice(1), 8);
  else if (HEX.test(text)) value = parseInt(text.slice(2), 16);
  else return notANumber(text);
  if (!Number.isSafeInteger(value)) {
    return `the number \`${text}\` is larger than ${Number.MAX_SAFE_INTEGER}`;
  }
  return value;
}

function notANumber(text: string): string {
  if (/^[0-9]+\.[0-9]*([eE][0-9]+)?$/.test(text)) {
    return `\`${text}\` is not a whole number: xl reads whole numbers only; quote it if it is text ("${text}")`;
  }
  if (/^0[0-9]+$/.test(text)) {
    return `\`${text}\` starts with 0, so it is octal, and 8 and 9 are not octal digits; write it without the leading 0`;
  }
  return (
    `\`${text}\` is not a number (decimal, octal with a leading 0 like 0755, or hex like 0x1f); ` +
    `quote it if it is text ("${text}")`
  );
}
