/** The one place where error codes become HTTP statuses and error bodies (STYLE.md habit 4). */
import type { ErrorCode } from "../foundation/errors.js";
import { EtherplaneError } from "../foundation/errors.js";

const statuses: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  INVALID_CONFIG: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  REFUSED: 409,
  IO_ERROR: 500,
  PROTOCOL: 502,
  UNAVAILABLE: 503,
  CLOSED: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export function toErrorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof EtherplaneError) {
    const field = typeof error.params["field"] === "string" ? error.params["field"] : undefined;
    return {
      status: statuses[error.code],
      body: { error: { code: error.code, message: error.message, ...(field ? { field } : {}) } },
    };
  }
  // Our own bug: no details to the client (they may hold internals), the log has them.
  return {
    status: 500,
    body: {
      error: { code: "INTERNAL", message: "internal error; the controller's log has the details" },
    },
  };
}
