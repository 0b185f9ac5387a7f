/**
 * A domain's etherplane settings (`etherplane domain set`, `PATCH /api/v1/domains/{ref}/settings`),
 * beside its xl.cfg file and never in it: the anti-affinity group and the hosts it is pinned to
 * (used from the next placement: a start, a migration, an evacuation; a running domain stays where
 * it is), and its high availability (ha-policy.ts reads them). Each setting is one entry of the
 * patch, checked on its own; the whole patch is checked before anything is written, then written
 * at once (one store update, one event).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { DomainRecord } from "../model.js";
import type { Store } from "../store/store.js";
import type { DomainService } from "./domain-service.js";
import type { EventLog } from "./event-log.js";

export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const PIN_HOSTS_MAX = 64;
export const HA_PRIORITY_MAX = 1000;

/** What `domain set` changes; a key left out stays as it is. */
export interface DomainSettingsPatch {
  /** null (or "") clears it. */
  antiAffinity?: string | null;
  /** Host names or ids; empty clears the pinning. */
  pin?: string[];
  /** on, off, or auto (on when on_crash or on_reboot is restart). */
  ha?: "on" | "off" | "auto";
  /** -HA_PRIORITY_MAX..HA_PRIORITY_MAX: the highest restarts first after a host dies. */
  haPriority?: number;
}

export class DomainSettings {
  constructor(
    private readonly store: Store,
    private readonly domains: DomainService,
    private readonly events: EventLog,
  ) {}

  async set(ref: string, patch: DomainSettingsPatch, actor: string): Promise<DomainRecord> {
    const domain = await this.domains.get(ref);
    const changes: Partial<Pick<DomainRecord, "antiAffinity" | "pinHosts" | "ha" | "haPriority">> =
      {};
    const said: string[] = [];
    if (patch.antiAffinity !== undefined) {
      const group = patch.antiAffinity === "" ? null : patch.antiAffinity;
      if (group !== null && !GROUP_NAME.test(group))
        throw new EtherplaneError(
          "INVALID_ARGUMENT",
          `anti-affinity: "${group.slice(0, 80)}" is not a group name; use letters, digits, . _ - (at most 64), or "" to clear it`,
          { params: { field: "antiAffinity" } },
        );
      changes.antiAffinity = group;
      said.push(`anti-affinity ${group ?? "(none)"}`);
    }
    if (patch.pin !== undefined) {
      if (patch.pin.length > PIN_HOSTS_MAX)
        throw new EtherplaneError(
          "INVALID_ARGUMENT",
          `pin: ${patch.pin.length} hosts; a domain is pinned to at most ${PIN_HOSTS_MAX}`,
          { params: { field: "pin" } },
        );
      const ids: string[] = [];
      const names: string[] = [];
      for (const hostRef of patch.pin) {
        const host =
          (await this.store.getHost(hostRef)) ?? (await this.store.findHostByName(hostRef));
        if (!host)
          throw new EtherplaneError(
            "NOT_FOUND",
            `pin: no host "${hostRef.slice(0, 80)}"; see etherplane host list (nothing changed)`,
            { params: { field: "pin" } },
          );
        if (!host.roles.includes("compute"))
          throw new EtherplaneError(
            "INVALID_ARGUMENT",
            `pin: host ${host.name} has no compute role (nothing changed)`,
            { params: { field: "pin" } },
          );
        if (!ids.includes(host.id)) {
          ids.push(host.id);
          names.push(host.name);
        }
      }
      changes.pinHosts = ids;
      said.push(`pinned to ${names.length ? names.join(",") : "(any host)"}`);
    }
    if (patch.ha !== undefined) {
      if (patch.ha !== "on" && patch.ha !== "off" && patch.ha !== "auto")
        throw new EtherplaneError(
          "INVALID_ARGUMENT",
          `ha: "${String(patch.ha).slice(0, 80)}" is not a setting; give on, off or auto (nothing changed)`,
          { params: { field: "ha" } },
        );
      changes.ha = patch.ha === "auto" ? null : patch.ha === "on";
      said.push(`ha ${patch.ha}`);
    }
    if (patch.haPriority !== undefined) {
      const priority = patch.haPriority;
      if (!Number.isInteger(priority) || Math.abs(priority) > HA_PRIORITY_MAX)
        throw new EtherplaneError(
          "INVALID_ARGUMENT",
          `ha-priority: ${priority} must be a whole number from -${HA_PRIORITY_MAX} to ${HA_PRIORITY_MAX} (higher restarts first; nothing changed)`,
          { params: { field: "haPriority" } },
        );
      changes.haPriority = priority;
      said.push(`ha priority ${priority}`);
    }
    if (said.length === 0)
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        "nothing to set: give --anti-affinity GROUP, --pin HOST[,HOST], --ha on|off|auto and/or --ha-priority N",
      );
    // The generation read above: a concurrent change to the domain refuses this one (CONFLICT).
    const updated = await this.store.updateDomain(domain.id, changes, domain.generation);
    await this.events.record(
      "domain.settings",
      domain.name,
      `${domain.name}: ${said.join("; ")}${changes.antiAffinity !== undefined || changes.pinHosts !== undefined ? " (from the next placement)" : ""}`,
      { by: actor },
    );
    return updated;
  }
}
