/**
 * Errors carry a stable `code`, optional `params` and the `cause` (STYLE.md habit 4).
 * Each edge (CLI exit codes, HTTP statuses) maps codes in exactly one place.
 */
export type ErrorCode =
  | "INVALID_ARGUMENT" // the caller gave bad input (flag, config key, API field)
  | "INVALID_CONFIG" // a config file is wrong; the message names the key and the fix
  | "NOT_FOUND" // a named thing does not exist (interface, target, file)
  | "OUT_OF_RANGE" // an offset or length beyond a device
  | "IO_ERROR" // the operating system refused a read, write or sync
  | "TIMEOUT" // a peer did not answer within its bounded time
  | "REFUSED" // a peer answered with an error (reserved, masked, read-only)
  | "PROTOCOL" // a peer sent something the protocol does not allow
  | "UNAVAILABLE" // a needed facility is missing on this machine (module, package, privilege)
  | "CLOSED" // the object was closed while the call was pending
  | "CONFLICT" // the request clashes with the current state (a name or address in use)
  | "UNAUTHENTICATED" // no credentials, or unknown ones
  | "FORBIDDEN" // known credentials whose role may not do this
  | "INTERNAL"; // a bug, ours or a peer's (a controller's 500), or a code this side does not know

/** Every ErrorCode, checked against the union at compile time so that a new code is not missed. */
const knownCodes: Record<ErrorCode, true> = {
  INVALID_ARGUMENT: true,
  INVALID_CONFIG: true,
  NOT_FOUND: true,
  OUT_OF_RANGE: true,
  IO_ERROR: true,
  TIMEOUT: true,
  REFUSED: true,
  PROTOCOL: true,
  UNAVAILABLE: true,
  CLOSED: true,
  CONFLICT: true,
  UNAUTHENTICATED: true,
  FORBIDDEN: true,
  INTERNAL: true,
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(knownCodes, value);
}

/** A peer's code string as an ErrorCode (never cast one): unknown or missing ones are INTERNAL. */
export function parseErrorCode(value: unknown): ErrorCode {
  return isErrorCode(value) ? value : "INTERNAL";
}

export class EtherplaneError extends Error {
  readonly code: ErrorCode;
  readonly params: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; params?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EtherplaneError";
    this.code = code;
    this.params = options.params ?? {};
  }
}

export function isEtherplaneError(value: unknown, code?: ErrorCode): value is EtherplaneError {
  return value instanceof EtherplaneError && (code === undefined || value.code === code);
}

/** The message of any thrown value, for logs and CLI output. */
export function errorMessage(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}

/**
 * A thrown value as log fields: its message, and its code and its cause's message when it has
 * them (an EtherplaneError's code, a Node.js error's errno code such as ENOENT), so a log line
 * keeps what String(error) would drop.
 */
export function errorFields(value: unknown): { error: string; code?: string; cause?: string } {
  const fields: { error: string; code?: string; cause?: string } = { error: errorMessage(value) };
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    if (typeof code === "string") fields.code = code;
    if (value.cause !== undefined) fields.cause = errorMessage(value.cause);
  }
  return fields;
}
