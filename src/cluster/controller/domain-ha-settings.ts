/**
 * `domain set NAME --ha on|off|auto --ha-priority N`: a domain's high availability settings
 * (ha-policy.ts reads them). Kept apart from the other `domain set` settings so that each reads
 * as one option.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { DomainRecord } from "../model.js";
import type { Store } from "../store/store.js";
import type { DomainService } from "./domain-service.js";

export const HA_PRIORITY_MAX = 1000;

export interface HaSettingsRequest {
  /** on, off, or auto (on when on_crash or on_reboot is restart). */
  ha?: "on" | "off" | "auto";
  priority?: number;
}

export async function setDomainHa(
  store: Store,
  domains: DomainService,
  ref: string,
  request: HaSettingsRequest,
): Promise<DomainRecord> {
  const { ha, priority } = request;
  if (ha === undefined && priority === undefined)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      "give --ha on|off|auto, --ha-priority N, or both",
      { params: { field: "ha" } },
    );
  if (
    priority !== undefined &&
    (!Number.isInteger(priority) || priority < -HA_PRIORITY_MAX || priority > HA_PRIORITY_MAX)
  )
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `ha-priority: ${priority} must be a whole number from -${HA_PRIORITY_MAX} to ${HA_PRIORITY_MAX} (higher restarts first)`,
      { params: { field: "priority" } },
    );
  const domain = await domains.get(ref);
  return store.updateDomain(
    domain.id,
    {
      ...(ha === undefined ? {} : { ha: ha === "auto" ? null : ha === "on" }),
      ...(priority === undefined ? {} : { haPriority: priority }),
    },
    domain.generation,
  );
}
