/**
 * What the CLI needs to talk to a controller, and the checks those settings pass wherever they
 * come from (flags, environment, config file, or a caller of ApiClient). Messages name where a bad
 * value came from but never repeat a token.
 */
import { EtherplaneError } from "../../foundation/errors.js";

export interface CliSettings {
  /** The controller's base URL, e.g. http://127.0.0.1:7380 (no trailing slash). */
  controller: string;
  /** A bearer token, sent as `Authorization: Bearer <token>`. */
  token: string;
}

export const controllerUrlCharsMax = 2048;
export const tokenCharsMax = 4096;

/**
 * Checks a controller URL and returns it without a trailing slash. `source` names where it came
 * from (`--controller`, `ETHERPLANE_CONTROLLER`, a file's key) for the message.
 */
export function checkControllerUrl(text: string, source: string): string {
  const fix = "write it like http://127.0.0.1:7380";
  if (text.length === 0) throw invalid(`${source} is empty; ${fix}`);
  if (text.length > controllerUrlCharsMax)
    throw invalid(`${source} is longer than ${controllerUrlCharsMax} characters; ${fix}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw invalid(`${source}: "${text}" is not a URL; ${fix}`, cause);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw invalid(`${source}: "${text}" is not an http or https URL; ${fix}`);
  // fetch refuses URLs with credentials, and they would end up in messages: tokens go in --token-file.
  if (url.username || url.password)
    throw invalid(`${source}: the URL must not hold a user name or password; pass a token instead`);
  if (url.search || url.hash) throw invalid(`${source}: "${text}" has a query or fragment; ${fix}`);
  return url.href.replace(/\/+$/, "");
}

/** Checks a token: visible ASCII only, so that it fits an HTTP header and never breaks a line. */
export function checkToken(text: string, source: string): string {
  if (text.length === 0) throw invalid(`${source} is empty`);
  if (text.length > tokenCharsMax)
    throw invalid(`${source} is longer than ${tokenCharsMax} characters`);
  // fetch's own message for a bad header value would quote the token, so check first.
  if (!/^[\x21-\x7e]+$/.test(text))
    throw invalid(`${source} holds spaces or control characters, which a token cannot have`);
  return text;
}

function invalid(message: string, cause?: unknown): EtherplaneError {
  return new EtherplaneError("INVALID_ARGUMENT", message, { cause });
}
