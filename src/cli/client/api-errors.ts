/**
 * The client side of the API's error contract, for every caller of the controller (the CLI, the
 * agent): an HTTP error reply, or a failed request, becomes one EtherplaneError. Replies look like `{ "error": { "code", "message", "field"? } }`; a code this
 * CLI knows is kept, otherwise the HTTP status decides.
 */
import { EtherplaneError, isErrorCode, type ErrorCode } from "../../foundation/errors.js";

export { isErrorCode };

export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return "UNAUTHENTICATED";
  if (status === 403) return "FORBIDDEN";
  if (status === 404) return "NOT_FOUND";
  if (status === 409 || status === 412) return "CONFLICT";
  if (status === 408) return "TIMEOUT";
  if (status === 429 || status >= 500) return "UNAVAILABLE";
  if (status >= 400) return "INVALID_ARGUMENT";
  // A 1xx or 3xx reaching here means the controller speaks something else than this API.
  return "PROTOCOL";
}

const loginHint = "log in with `etherplane login --controller URL --token-file FILE`";

export interface RequestContext {
  method: string;
  path: string;
  /** The controller URL, for messages (never holds credentials: see checkControllerUrl). */
  baseUrl: string;
}

/** Maps an error reply. `body` is the parsed JSON, or undefined when the reply was not JSON. */
export function errorFromReply(
  status: number,
  body: unknown,
  context: RequestContext,
): EtherplaneError {
  const error = isObject(body) && isObject(body["error"]) ? body["error"] : {};
  const remoteCode = error["code"];
  const code = isErrorCode(remoteCode) ? remoteCode : codeForStatus(status);
  const remoteMessage = error["message"];
  let message =
    typeof remoteMessage === "string" && remoteMessage.length > 0
      ? remoteMessage
      : `the controller at ${context.baseUrl} answered ${context.method} ${context.path} with HTTP ${status}`;
  // The controller cannot know the CLI's commands; the CLI adds how to fix a refused token.
  if (code === "UNAUTHENTICATED") message += ` (${loginHint})`;
  const params: Record<string, unknown> = {
    status,
    method: context.method,
    path: context.path,
  };
  if (typeof error["field"] === "string") params["field"] = error["field"];
  if (typeof remoteCode === "string" && remoteCode !== code) params["remoteCode"] = remoteCode;
  return new EtherplaneError(code, message, { params });
}

/** A controller should never echo a token; if one does, the CLI still does not print it. */
export function maskToken(error: EtherplaneError, token: string): EtherplaneError {
  const mask = (text: string) => text.split(token).join("***");
  const params = Object.fromEntries(
    Object.entries(error.params).map(([key, value]) => [
      key,
      typeof value === "string" ? mask(value) : value,
    ]),
  );
  return new EtherplaneError(error.code, mask(error.message), { params });
}

/** Maps what fetch (or node:http, for an upgrade) threw: a timeout, a refused connection, or another network failure. */
export function errorFromFetchFailure(
  failure: unknown,
  context: RequestContext & { timeoutMs: number },
): EtherplaneError {
  const { method, path, baseUrl } = context;
  const params = { method, path };
  if (failure instanceof EtherplaneError) return failure;
  if (failure instanceof Error && failure.name === "TimeoutError") {
    return new EtherplaneError(
      "TIMEOUT",
      `the controller at ${baseUrl} did not answer ${method} ${path} within ${context.timeoutMs / 1000}s; ` +
        "is it overloaded or stuck? try again, or check its logs",
      { cause: failure, params },
    );
  }
  const code = systemErrorCode(failure);
  if (code === "ECONNREFUSED") {
    return new EtherplaneError(
      "UNAVAILABLE",
      `cannot reach the controller at ${baseUrl} (connection refused): is the controller running? ` +
        "start one with `etherplane up`, or name another with --controller URL",
      { cause: failure, params },
    );
  }
  const detail = code ?? (failure instanceof Error ? rootMessage(failure) : String(failure));
  return new EtherplaneError(
    "UNAVAILABLE",
    `cannot reach the controller at ${baseUrl} (${detail}): check the URL and the network, ` +
      "or name another controller with --controller URL",
    { cause: failure, params },
  );
}

/**
 * fetch throws `TypeError("fetch failed")` whose cause holds the system error's code; when a name
 * resolves to several addresses (localhost: ::1 and 127.0.0.1) the cause is an AggregateError.
 */
function systemErrorCode(failure: unknown): string | undefined {
  let current: unknown = failure;
  for (let depth = 0; depth < 5 && current !== undefined; depth++) {
    if (isObject(current) && typeof current["code"] === "string") return current["code"];
    if (current instanceof AggregateError) {
      const codes = current.errors.map(systemErrorCode).filter((c) => c !== undefined);
      if (codes.length > 0) return codes.includes("ECONNREFUSED") ? "ECONNREFUSED" : codes[0];
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

function rootMessage(error: Error): string {
  let current: Error = error;
  for (let depth = 0; depth < 5 && current.cause instanceof Error; depth++) current = current.cause;
  return current.message;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
