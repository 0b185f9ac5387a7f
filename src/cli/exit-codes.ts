/**
 * The one place where errors become exit codes and messages (STYLE.md habit 4).
 *   0 success · 1 unexpected failure · 2 bad usage or config · 3 not found · 4 timeout or
 *   unavailable · 5 refused by a peer · 6 I/O error · 7 out of range · 8 conflict with the current
 *   state · 9 not logged in, or not allowed
 */
import { EtherplaneError, type ErrorCode } from "../foundation/errors.js";

const exitCodes: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 2,
  INVALID_CONFIG: 2,
  NOT_FOUND: 3,
  TIMEOUT: 4,
  UNAVAILABLE: 4,
  CLOSED: 4,
  REFUSED: 5,
  PROTOCOL: 5,
  IO_ERROR: 6,
  OUT_OF_RANGE: 7,
  CONFLICT: 8,
  UNAUTHENTICATED: 9,
  FORBIDDEN: 9,
  INTERNAL: 1,
};

export function exitCodeFor(error: unknown): number {
  // `?? 1`: an error whose code was cast from a peer's string rather than parsed still fails.
  return error instanceof EtherplaneError ? (exitCodes[error.code] ?? 1) : 1;
}

export function messageFor(error: unknown): string {
  if (error instanceof EtherplaneError) return `etherplane: ${error.message}`;
  if (error instanceof Error)
    return `etherplane: unexpected error: ${error.stack ?? error.message}`;
  return `etherplane: unexpected error: ${String(error)}`;
}
