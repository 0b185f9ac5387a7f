/** The controller's host lease flags (`controller` and `up`), checked against their bounds. */
import {
  checkLeaseSettings,
  LEASE_DEFAULT,
  type LeaseSettings,
} from "../../cluster/controller/host-liveness.js";
import { errorMessage } from "../../foundation/errors.js";
import { usageError } from "../args.js";

export const leaseFlags = {
  "lease-renew-ms": { type: "string" },
  "lease-suspect-ms": { type: "string" },
  "lease-dead-ms": { type: "string" },
} as const;

export const leaseUsage =
  `[--lease-renew-ms N (default ${LEASE_DEFAULT.renewMs})] ` +
  `[--lease-suspect-ms N (default ${LEASE_DEFAULT.suspectMs})] ` +
  `[--lease-dead-ms N (default ${LEASE_DEFAULT.deadMs})]`;

function whole(flag: string, text: string | undefined, fallback: number, usage: string): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,9}$/.test(text))
    throw usageError(`--${flag} ${text}: give a whole number of milliseconds`, usage);
  return Number(text);
}

export function parseLeaseFlags(
  values: {
    "lease-renew-ms"?: string | undefined;
    "lease-suspect-ms"?: string | undefined;
    "lease-dead-ms"?: string | undefined;
  },
  usage: string,
): LeaseSettings {
  const settings = {
    renewMs: whole("lease-renew-ms", values["lease-renew-ms"], LEASE_DEFAULT.renewMs, usage),
    suspectMs: whole(
      "lease-suspect-ms",
      values["lease-suspect-ms"],
      LEASE_DEFAULT.suspectMs,
      usage,
    ),
    deadMs: whole("lease-dead-ms", values["lease-dead-ms"], LEASE_DEFAULT.deadMs, usage),
  };
  try {
    return checkLeaseSettings(settings);
  } catch (error) {
    throw usageError(errorMessage(error), usage);
  }
}
