/** The controller's limit flags (`controller` and `up`), checked against their bounds. */
import {
  AUDIT_LIMITS_DEFAULT,
  AUDIT_RETENTION_DAYS_MAX,
  AUDIT_RETENTION_ROWS_MAX,
} from "../../cluster/controller/audit-log.js";
import {
  CONSOLE_AGENT_WAIT_MS_MAX,
  CONSOLE_AGENT_WAIT_MS_MIN,
  CONSOLE_LIMITS_DEFAULT,
} from "../../cluster/controller/console-broker.js";
import type { ControllerLimits } from "../../cluster/controller/controller.js";
import { usageError } from "../args.js";

const DAY_MS = 24 * 3600 * 1000;

export const limitFlags = {
  "audit-max-age-days": { type: "string" },
  "audit-max-rows": { type: "string" },
  "console-agent-wait-ms": { type: "string" },
} as const;

export const limitUsage =
  `[--audit-max-age-days N (default ${AUDIT_LIMITS_DEFAULT.retentionMs / DAY_MS})] [--audit-max-rows N (default ${AUDIT_LIMITS_DEFAULT.retentionRowsMax})] ` +
  `[--console-agent-wait-ms N (default ${CONSOLE_LIMITS_DEFAULT.agentWaitMs})]`;

function whole(flag: string, text: string, max: number, usage: string, min = 1): number {
  const value = /^\d{1,12}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max))
    throw usageError(`--${flag} ${text}: give a whole number from ${min} to ${max}`, usage);
  return value;
}

export function parseLimitFlags(
  values: {
    "audit-max-age-days"?: string | undefined;
    "audit-max-rows"?: string | undefined;
    "console-agent-wait-ms"?: string | undefined;
  },
  usage: string,
): Partial<ControllerLimits> {
  const days = values["audit-max-age-days"];
  const rows = values["audit-max-rows"];
  const consoleWait = values["console-agent-wait-ms"];
  return {
    ...(consoleWait === undefined
      ? {}
      : {
          consoles: {
            ...CONSOLE_LIMITS_DEFAULT,
            agentWaitMs: whole(
              "console-agent-wait-ms",
              consoleWait,
              CONSOLE_AGENT_WAIT_MS_MAX,
              usage,
              CONSOLE_AGENT_WAIT_MS_MIN,
            ),
          },
        }),
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
