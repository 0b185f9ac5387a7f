/** The controller's limit flags (`controller` and `up`), checked against their bounds. */
import {
  AUDIT_LIMITS_DEFAULT,
  AUDIT_RETENTION_DAYS_MAX,
  AUDIT_RETENTION_ROWS_MAX,
} from "../../cluster/controller/audit-log.js";
import type { ControllerLimits } from "../../cluster/controller/controller.js";
import { usageError } from "../args.js";

const DAY_MS = 24 * 3600 * 1000;

export const limitFlags = {
  "audit-max-age-days": { type: "string" },
  "audit-max-rows": { type: "string" },
} as const;

export const limitUsage = `[--audit-max-age-days N (default ${AUDIT_LIMITS_DEFAULT.retentionMs / DAY_MS})] [--audit-max-rows N (default ${AUDIT_LIMITS_DEFAULT.retentionRowsMax})]`;

function whole(flag: string, text: string, max: number, usage: string): number {
  const value = /^\d{1,12}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 1 && value <= max))
    throw usageError(`--${flag} ${text}: give a whole number from 1 to ${max}`, usage);
  return value;
}

export function parseLimitFlags(
  values: { "audit-max-age-days"?: string | undefined; "audit-max-rows"?: string | undefined },
  usage: string,
): Partial<ControllerLimits> {
  const days = values["audit-max-age-days"];
  const rows = values["audit-max-rows"];
  return {
    audit: {
      ...AUDIT_LIMITS_DEFAULT,
      ...(days === undefined
        ? {}
        : {
            retentionMs:
              whole("audit-max-age-days", days, AUDIT_RETENTION_DAYS_MAX, usage) * DAY_MS,
          }),
      ...(rows === undefined
        ? {}
        : { retentionRowsMax: whole("audit-max-rows", rows, AUDIT_RETENTION_ROWS_MAX, usage) }),
    },
  };
}
