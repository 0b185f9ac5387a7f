/**
 * Pages of the list endpoints: `limit` (bounded, with a default) and an opaque `cursor`, answered
 * with `nextCursor` (null on the last page). A cursor is the last item's sort key, base64url: the
 * next page starts after it, so a record added or removed meanwhile shifts nothing.
 */
import { z } from "@hono/zod-openapi";
import { EtherplaneError } from "../foundation/errors.js";

export const PAGE_LIMIT_DEFAULT = 100;
export const PAGE_LIMIT_MAX = 1000;
const CURSOR_CHARS_MAX = 1024;

export const PageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(PAGE_LIMIT_MAX)
    .optional()
    .openapi({ description: `at most this many (default ${PAGE_LIMIT_DEFAULT})` }),
  cursor: z
    .string()
    .max(CURSOR_CHARS_MAX)
    .optional()
    .openapi({ description: "the nextCursor of the previous page" }),
});

export const NextCursor = z
  .string()
  .nullable()
  .openapi({ description: "pass as cursor for the next page; null on the last page" });

export function encodeCursor(key: string): string {
  return Buffer.from(key, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor))
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      "cursor: not a cursor of this list; pass the nextCursor of the previous page unchanged",
      { params: { field: "cursor" } },
    );
  return Buffer.from(cursor, "base64url").toString("utf8");
}

/** A key that sorts numbers as text: zero-padded. */
export function numberKey(value: number): string {
  return String(value).padStart(16, "0");
}

/**
 * One page of `items`, ordered by `key` (ascending, or descending with `descending`), starting
 * after the cursor's key.
 */
export function page<T>(
  items: readonly T[],
  key: (item: T) => string,
  query: { limit?: number | undefined; cursor?: string | undefined },
  descending = false,
): { items: T[]; nextCursor: string | null } {
  const limit = query.limit ?? PAGE_LIMIT_DEFAULT;
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const keyed = items.map((item) => ({ item, key: key(item) }));
  const sign = descending ? -1 : 1;
  keyed.sort((a, b) => sign * (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const rest =
    after === undefined ? keyed : keyed.filter((k) => (descending ? k.key < after : k.key > after));
  const shown = rest.slice(0, limit);
  const last = shown.at(-1);
  return {
    items: shown.map((k) => k.item),
    nextCursor: rest.length > limit && last ? encodeCursor(last.key) : null,
  };
}
