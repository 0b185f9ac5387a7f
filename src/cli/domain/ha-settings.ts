/** `etherplane domain set NAME --ha on|off|auto --ha-priority N`: its own option handling. */
import type { DomainRecord } from "../../cluster/model.js";
import { usageError } from "../args.js";
import type { Session } from "../cluster/session.js";
import { printJson } from "../output/json.js";

export const haFlags = {
  ha: { type: "string" },
  "ha-priority": { type: "string" },
} as const;

export async function setHa(
  session: Session,
  name: string,
  values: { ha?: string | undefined; "ha-priority"?: string | undefined },
  usage: string,
): Promise<void> {
  const ha = values.ha;
  if (ha !== undefined && ha !== "on" && ha !== "off" && ha !== "auto")
    throw usageError(`--ha ${ha}: give on, off or auto`, usage);
  const text = values["ha-priority"];
  if (text !== undefined && !/^-?\d{1,4}$/.test(text))
    throw usageError(`--ha-priority ${text}: give a whole number, e.g. 10`, usage);
  if (ha === undefined && text === undefined)
    throw usageError("domain set: give --ha on|off|auto, --ha-priority N, or both", usage);
  const { domain } = await session.client.request<{ domain: DomainRecord }>(
    "PUT",
    `/api/v1/domains/${encodeURIComponent(name)}/ha`,
    {
      ...(ha === undefined ? {} : { ha }),
      ...(text === undefined ? {} : { priority: Number(text) }),
    },
  );
  if (session.json) return printJson({ domain });
  const state = domain.ha === true ? "on" : domain.ha === false ? "off" : "auto";
  process.stdout.write(`${domain.name}: ha ${state}, priority ${domain.haPriority ?? 0}\n`);
}
