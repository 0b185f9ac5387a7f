/**
 * How records become SQLite rows: columns are snake_case; arrays and objects are JSON text;
 * booleans are 0/1; an absent task result (undefined) is SQL NULL while a null result is the JSON
 * text "null". One file per table maps its records (host-rows.ts, volume-rows.ts, ...). Pure.
 */
import { EtherplaneError } from "../../../foundation/errors.js";

/** A JSON column's text is bounded: records are control-plane state, not bulk data. */
export const JSON_COLUMN_BYTES_MAX = 1024 * 1024;

export function toJson(value: unknown, column: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${column} cannot be stored as JSON`, { cause });
  }
  if (text === undefined) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${column} cannot be stored as JSON`);
  }
  if (Buffer.byteLength(text) > JSON_COLUMN_BYTES_MAX) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${column} is ${Buffer.byteLength(text)} bytes of JSON; the most a record holds is ${JSON_COLUMN_BYTES_MAX}`,
    );
  }
  return text;
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
