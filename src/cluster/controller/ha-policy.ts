/**
 * Which domains high availability restarts elsewhere when their host dies, and in which order.
 * Pure. On by default for a domain whose frozen spec restarts it after a crash or a reboot
 * (on_crash or on_reboot = restart: its owner wants it to keep running); an admin's choice
 * (`domain set NAME --ha on|off`) overrides that when the record carries one.
 */
import type { DomainAction, DomainRecord } from "../model.js";

function restarts(action: DomainAction): boolean {
  return action === "restart" || action === "rename-restart" || action === "coredump-restart";
}

/** The admin's HA settings, when the record has them (`domain set`). */
interface HaSettings {
  ha?: boolean | null;
  haPriority?: number;
}

export function haEnabled(domain: DomainRecord & HaSettings): boolean {
  if (typeof domain.ha === "boolean") return domain.ha;
  const spec = domain.placed ?? domain;
  return restarts(spec.onCrash) || restarts(spec.onReboot);
}

export function haPriority(domain: DomainRecord & HaSettings): number {
  return domain.haPriority ?? 0;
}

/** Restart order: the highest priority first, then by name (stable, so a report reads well). */
export function byHaPriority(a: DomainRecord, b: DomainRecord): number {
  return haPriority(b) - haPriority(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
