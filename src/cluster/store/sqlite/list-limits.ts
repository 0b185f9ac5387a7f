/** Bounds on the Store's paged lists (tasks, audit), validated rather than clamped. */
import { EtherplaneError } from "../../../foundation/errors.js";

export const LIST_LIMIT_DEFAULT = 100;
export const LIST_LIMIT_MAX = 10_000;

/** The number of records a list returns: LIST_LIMIT_DEFAULT unless the caller asks. */
export function listLimit(limit: number | undefined): number {
  if (limit === undefined) return LIST_LIMIT_DEFAULT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `limit must be a whole number from 1 to ${LIST_LIMIT_MAX} (got ${limit})`,
      { params: { limit } },
    );
  }
  return limit;
}

export function validAfterId(afterId: number): number {
  if (!Number.isSafeInteger(afterId) || afterId < 0) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `afterId must be a whole number from 0 (got ${afterId})`,
      { params: { afterId } },
    );
  }
  return afterId;
}

/** The rows an audit retention keeps: at least one. */
export function validRowsMax(rowsMax: number): number {
  if (!Number.isSafeInteger(rowsMax) || rowsMax < 1) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `rowsMax must be a whole number from 1 (got ${rowsMax})`,
      { params: { rowsMax } },
    );
  }
  return rowsMax;
}
