/**
 * The AoE initiator's request deadline as a flag (`aoe nbd --request-timeout-ms N`, `agent
 * --san-request-timeout-ms N`): how long a frame is retransmitted before the request fails as an
 * I/O error. Checked against its bounds when the command starts.
 */
import {
  REQUEST_TIMEOUT_MS_MAX,
  REQUEST_TIMEOUT_MS_MIN,
} from "../../aoe/initiator/aoe-block-device.js";
import { usageError } from "../args.js";

/** The flag's usage line; `who` says whose requests (e.g. "compute: the guests' disk bridges "). */
export function requestTimeoutUsage(flag: string, defaultMs: number, who = ""): string {
  return `[${flag} N] (${who}give up on an unanswered AoE request after N ms, ${REQUEST_TIMEOUT_MS_MIN} to ${REQUEST_TIMEOUT_MS_MAX}, default ${defaultMs}: the I/O then fails)`;
}

/** `flag TEXT` as milliseconds, or undefined when absent (the default applies). */
export function parseRequestTimeoutMs(
  flag: string,
  text: string | undefined,
  usage: string,
): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d{1,7}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= REQUEST_TIMEOUT_MS_MIN && value <= REQUEST_TIMEOUT_MS_MAX))
    throw usageError(
      `${flag} ${text}: give a whole number of milliseconds from ${REQUEST_TIMEOUT_MS_MIN} to ${REQUEST_TIMEOUT_MS_MAX}`,
      usage,
    );
  return value;
}
