/**
 * Reads every page of a list endpoint (`limit`, `cursor`, `nextCursor`: src/api/paging.ts) and
 * returns the reply with the named array holding all of them, so commands show everything.
 */
import type { z } from "zod";
import { assert } from "../../foundation/assert.js";
import { EtherplaneError } from "../../foundation/errors.js";
import type { ApiClient } from "./api-client.js";

export const PAGE_LIMIT = 1000;
/** A bound on the pages of one list: a million records. */
export const PAGES_MAX = 1000;

/** A list route's reply (src/api/replies.ts): a list field and the next page's cursor. */
type PageSchema = z.ZodType<{ nextCursor: string | null }>;

export async function requestAllPages<S extends PageSchema>(
  client: Pick<ApiClient, "request">,
  path: string,
  field: keyof z.output<S> & string,
  reply: S,
  options: { pageLimit?: number; startCursor?: string } = {},
): Promise<z.output<S>> {
  const { pageLimit = PAGE_LIMIT } = options;
  const separator = path.includes("?") ? "&" : "?";
  let cursor: string | null = options.startCursor ?? null;
  let first: z.output<S> | undefined;
  const all: unknown[] = [];
  for (let pages = 0; pages < PAGES_MAX; pages++) {
    const query: string = `limit=${pageLimit}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page: z.output<S> = await client.request("GET", `${path}${separator}${query}`, reply);
    first ??= page;
    const items: unknown = page[field];
    // The schema has the list; this guards a caller naming a field that is not one.
    assert(Array.isArray(items), `${path}: ${field} is not the reply's list`);
    all.push(...(items as unknown[]));
    if (typeof page.nextCursor !== "string") return { ...first, [field]: all, nextCursor: null };
    cursor = page.nextCursor;
  }
  throw new EtherplaneError(
    "UNAVAILABLE",
    `${path} has more than ${PAGES_MAX} pages of ${pageLimit}; narrow the list`,
  );
}
