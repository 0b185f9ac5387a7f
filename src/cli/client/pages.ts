/**
 * Reads every page of a list endpoint (`limit`, `cursor`, `nextCursor`: src/api/paging.ts) and
 * returns the reply with the named array holding all of them, so commands show everything.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { ApiClient } from "./api-client.js";

export const PAGE_LIMIT = 1000;
/** A bound on the pages of one list: a million records. */
export const PAGES_MAX = 1000;

export async function requestAllPages<T extends Record<string, unknown>>(
  client: ApiClient,
  path: string,
  field: keyof T & string,
  options: { pageLimit?: number; startCursor?: string } = {},
): Promise<T> {
  const { pageLimit = PAGE_LIMIT } = options;
  const separator = path.includes("?") ? "&" : "?";
  let cursor: string | null = options.startCursor ?? null;
  let first: T | undefined;
  const all: unknown[] = [];
  for (let pages = 0; pages < PAGES_MAX; pages++) {
    const query: string = `limit=${pageLimit}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const reply = await client.request<T & { nextCursor?: string | null }>(
      "GET",
      `${path}${separator}${query}`,
    );
    first ??= reply;
    const items = reply[field];
    if (!Array.isArray(items))
      throw new EtherplaneError("PROTOCOL", `the controller's ${path} reply has no ${field} list`);
    all.push(...(items as unknown[]));
    if (typeof reply.nextCursor !== "string") return { ...first, [field]: all, nextCursor: null };
    cursor = reply.nextCursor;
  }
  throw new EtherplaneError(
    "UNAVAILABLE",
    `${path} has more than ${PAGES_MAX} pages of ${pageLimit}; narrow the list`,
  );
}
